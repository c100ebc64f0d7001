"""Reproducibility, device selection, the thread policy, and ``glue`` for the book's prose."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = [
    "setup",
    "seed_everything",
    "get_device",
    "set_threads",
    "count_parameters",
    "glue",
    "glue_table",
    "in_book_build",
]


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's ``random``, NumPy and PyTorch (CPU and every CUDA device).

    Returns a CPU :class:`torch.Generator` seeded with the same value, for code that
    prefers an explicit generator to the global state.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def get_device(prefer: str | None = None) -> torch.device:
    """Pick the best available device: CUDA, then Apple's MPS, then the CPU.

    ``prefer`` forces a device (``"cpu"``, ``"cuda"``, ``"mps"``); the environment
    variable ``TUTORIAL_DEVICE`` does the same without editing a notebook.
    """
    choice = prefer or os.environ.get("TUTORIAL_DEVICE")
    if choice is not None:
        valid = ("cpu", "cuda", "mps")
        if choice.split(":")[0] not in valid:
            raise ValueError(f"prefer must be one of {valid} (optionally 'cuda:N'), got {choice!r}")
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def set_threads(device: torch.device) -> int:
    """The book's one thread policy: on the CPU, torch uses ``TUTORIAL_THREADS`` threads
    (default 1). The book's models are small: one thread is faster than synchronising
    several, and ``make test`` runs two notebooks at once on a 2-core machine.
    Returns the number of threads set (unchanged on a GPU)."""
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be a torch.device or a device string, got {device!r}") from err
    if kind != "cpu":
        return torch.get_num_threads()
    raw = os.environ.get("TUTORIAL_THREADS", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"TUTORIAL_THREADS must be a positive integer, got {raw!r}")
    torch.set_num_threads(int(raw))
    return int(raw)


def setup(seed: int = 0, device: str | None = None) -> tuple[torch.Generator, torch.device]:
    """The first lines of every chapter: seed everything, pick the device, apply the
    thread policy (:func:`set_threads`) and, in a notebook, draw figures at retina resolution. Returns ``(generator, device)``, the generator
    seeded with ``seed``."""
    generator = seed_everything(seed)
    dev = get_device(device)
    set_threads(dev)
    _sharp_figures()
    return generator, dev


def _sharp_figures() -> None:
    """In a notebook, draw inline figures at twice the resolution (sharp on high-DPI screens)."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


def count_parameters(module: torch.nn.Module) -> int:
    """Number of trainable parameters of ``module``."""
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


_GLUE_PREFIX = "application/papermill.record/"


def glue(name: str, value: object, display: bool = False) -> None:
    """Record ``value`` under ``name`` for the book's prose (``{glue:text}`name```).

    In the book build this is myst-nb's ``glue``. Without myst-nb (Colab, plain Jupyter),
    it writes the same output that myst-nb's ``glue`` writes, so a chapter runs with the
    library's own dependencies only. Unlike myst-nb, ``display`` defaults to ``False``:
    the value is recorded, not shown.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        pass
    else:
        myst_glue(name, value, display=display)
        return
    from IPython.core.formatters import format_display_data
    from IPython.display import display as ipy_display

    bundle, metadata = format_display_data(value)
    prefix = "" if display else _GLUE_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    ipy_display({prefix + k: v for k, v in bundle.items()}, raw=True, metadata=metadata)


def in_book_build() -> bool:
    """Whether the code runs to render the book (``TUTORIAL_BOOK_BUILD=1``, set by ``make book``
    and the build test) rather than for an interactive reader or a test."""
    return os.environ.get("TUTORIAL_BOOK_BUILD", "0") == "1"


def glue_table(name: str, markdown: str) -> None:
    """Show a Markdown table to the reader and glue it under ``name`` for a numbered table.

    The chapter's prose wraps the glued table in a ``{table}`` block with a caption and a
    label, so the book numbers it ("Table 4.2"). In the book build the table is shown only
    there; everywhere else (Jupyter, Colab, tests) it is also displayed in the cell's output.
    """
    if not isinstance(markdown, str) or "|" not in markdown:
        raise ValueError(f"markdown must be a Markdown table (a string with | columns), got {markdown!r}")
    from IPython.display import Markdown
    from IPython.display import display as ipy_display

    glue(name, Markdown(markdown))
    if not in_book_build():
        ipy_display(Markdown(markdown))
