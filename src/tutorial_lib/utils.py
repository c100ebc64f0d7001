"""Reproducibility and device selection."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["seed_everything", "get_device", "count_parameters"]


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


def count_parameters(module: torch.nn.Module) -> int:
    """Number of trainable parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
