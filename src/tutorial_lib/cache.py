r"""A cache of trained models, as ``state_dict`` files, for chapters that compare models
trained by other chapters.

A checkpoint is keyed by a name and a *fingerprint*: a hash of the configuration's
``repr``, of every source file of this library and of the torch version, so that a
change of configuration or of code makes a new key and the model is trained again. It is
saved with ``torch.save(model.state_dict())`` and loaded with ``torch.load(...,
weights_only=True)`` into a freshly built model; the training's wall seconds and any
other record of the build are kept beside it as JSON. Writes go to a temporary file
first and are renamed into place, so two processes building the same model do not
corrupt it.

The folder is ``$TUTORIAL_CACHE`` if set, else ``~/.cache/tutorial-lib``.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["cache_dir", "fingerprint", "Cached", "load_or_build"]

_SOURCE_HASH: str | None = None


def cache_dir() -> pathlib.Path:
    """The cache folder: ``$TUTORIAL_CACHE`` or ``~/.cache/tutorial-lib`` (created)."""
    root = os.environ.get("TUTORIAL_CACHE") or pathlib.Path.home() / ".cache"
    path = pathlib.Path(root)
    if not os.environ.get("TUTORIAL_CACHE"):
        path = path / "tutorial-lib"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _source_hash() -> str:
    global _SOURCE_HASH
    if _SOURCE_HASH is None:
        root = pathlib.Path(__file__).resolve().parent
        h = hashlib.sha256()
        for path in sorted(root.rglob("*.py")):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
        _SOURCE_HASH = h.hexdigest()
    return _SOURCE_HASH


def fingerprint(config: object) -> str:
    """A short hash of ``repr(config)``, this library's source files and the torch
    version."""
    text = repr(config)
    if " at 0x" in text:
        raise ValueError(
            f"config must have a repr that names its values (a dataclass), got {text}"
        )
    h = hashlib.sha256(text.encode())
    h.update(_source_hash().encode())
    h.update(torch.__version__.encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Cached:
    """A model from the cache (``hit``) or freshly built, with the record of its build
    (``record``: at least ``seconds``, the build's wall seconds)."""

    model: nn.Module
    record: dict
    hit: bool


def load_or_build(
    name: str,
    config: object,
    build: Callable[[], tuple[nn.Module, dict]],
    empty: Callable[[], nn.Module],
) -> Cached:
    """The model ``name`` for ``config``: loaded into ``empty()`` from the cache when a
    checkpoint with this fingerprint exists, otherwise built by ``build()`` (which
    returns the model and a JSON-serialisable record), timed and saved.

    ``empty()`` must build the same architecture as ``build()``; the loaded model is put
    in eval mode.
    """
    if not isinstance(name, str) or not name or not name.replace("_", "").isalnum():
        raise ValueError(f"name must be a non-empty identifier, got {name!r}")
    if not callable(build) or not callable(empty):
        raise ValueError("build and empty must be callables")
    stem = cache_dir() / f"{name}-{fingerprint(config)}"
    weights, meta = stem.with_suffix(".pt"), stem.with_suffix(".json")
    if weights.exists() and meta.exists():
        model = empty()
        model.load_state_dict(
            torch.load(weights, map_location="cpu", weights_only=True)
        )
        return Cached(model.eval(), json.loads(meta.read_text()), True)
    start = time.perf_counter()
    model, record = build()
    record = {"seconds": time.perf_counter() - start, **record}
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _atomic(weights, lambda f: torch.save(state, f))
    _atomic(meta, lambda f: f.write(json.dumps(record, indent=1).encode()))
    return Cached(model.eval(), record, False)


def _atomic(path: pathlib.Path, write: Callable) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
