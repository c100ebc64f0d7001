r"""The 8x8 digits bundled with scikit-learn: the book's split and pixel scales.

Pixels take the 17 values :math:`\{0, \dots, 16\}`. The split is fixed: train = the first
1000 images, validation = the next 350, test = the last 447. Networks that want inputs in
:math:`[-1, 1]` use :func:`to_unit` and :func:`to_pixels`; continuous models of the discrete
pixels train on dequantised values :math:`x + u`, :math:`u \sim U[0, 1)^{64}`
(:func:`dequantize`, Theis et al. 2016, arXiv:1511.01844).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "DigitsSplit",
    "load_digits_split",
    "LEVELS",
    "to_unit",
    "to_pixels",
    "dequantize",
    "dequantized_sampler",
]

#: Number of pixel values of the digits (0..16).
LEVELS = 17


@dataclass(frozen=True)
class DigitsSplit:
    """scikit-learn's 8x8 digits (pixel values in {0, ..., 16}) as float32 tensors of
    shape ``(N, 64)``: train = first 1000 images, val = next 350, test = last 447."""

    train: Tensor
    val: Tensor
    test: Tensor
    train_labels: Tensor
    val_labels: Tensor
    test_labels: Tensor

    levels: int = 17  # pixel values 0..16


def load_digits_split() -> DigitsSplit:
    """Load the digits bundled with scikit-learn (no download) and split them."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.as_tensor(bunch.data, dtype=torch.float32)
    y = torch.as_tensor(bunch.target, dtype=torch.int64)
    return DigitsSplit(x[:1000], x[1000:1350], x[1350:], y[:1000], y[1000:1350], y[1350:])


def to_unit(pixels: Tensor) -> Tensor:
    """Pixel values in [0, 16] to the networks' scale [-1, 1]."""
    return pixels / 8.0 - 1.0


def to_pixels(unit: Tensor) -> Tensor:
    """The networks' scale [-1, 1] back to pixel values in [0, 16]."""
    return (unit + 1.0) * 8.0


def dequantize(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """``x + u`` with ``u ~ U[0, 1)`` elementwise (``generator`` on the CPU)."""
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype)
    return x + u.to(x.device)


def dequantized_sampler(x: Tensor):
    """A sampler ``(batch_size, generator) -> Tensor`` for :func:`~tutorial_lib.train.fit`:
    rows of ``x`` drawn with replacement, each with fresh uniform noise."""
    if x.dim() != 2 or x.shape[0] == 0:
        raise ValueError(f"x must be a non-empty (N, D) tensor, got shape {tuple(x.shape)}")

    def sample(n: int, generator: torch.Generator) -> Tensor:
        idx = torch.randint(0, x.shape[0], (n,), generator=generator)
        return dequantize(x[idx.to(x.device)], generator)

    return sample
