r"""The 8x8 digits bundled with scikit-learn: the book's split and pixel scales.

Pixels take the 17 values :math:`\{0, \dots, 16\}`. The split is fixed: train = the
first 1000 images, validation = the next 350, test = the last 447. Networks that want
inputs in :math:`[-1, 1]` use :func:`to_unit` and :func:`to_pixels`; continuous models
of the discrete pixels train on dequantised values :math:`x + u`,
:math:`u \sim U[0, 1)^{64}` (:func:`dequantize`, Theis et al. 2016, arXiv:1511.01844).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "DigitsSplit",
    "check_split",
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
    """scikit-learn's 8x8 digits as float32 pixel tensors of shape ``(N, 64)`` with
    values in ``{0, ..., levels - 1}`` and int64 labels of shape ``(N,)``:
    train = first 1000 images, val = next 350, test = last 447."""

    train: Tensor
    val: Tensor
    test: Tensor
    train_labels: Tensor
    val_labels: Tensor
    test_labels: Tensor
    levels: int = LEVELS

    def __post_init__(self) -> None:
        if not isinstance(self.levels, int) or self.levels < 2:
            raise ValueError(f"levels must be an int >= 2, got {self.levels!r}")
        for part in ("train", "val", "test"):
            x, y = getattr(self, part), getattr(self, f"{part}_labels")
            if (
                not isinstance(x, Tensor)
                or x.ndim != 2
                or x.shape[1] != self.train.shape[1]
            ):
                raise ValueError(
                    f"{part} must be an (N, D) tensor like train, got {_shape(x)}"
                )
            if not isinstance(y, Tensor) or y.shape != x.shape[:1]:
                raise ValueError(
                    f"{part}_labels must have shape ({x.shape[0]},), got {_shape(y)}"
                )


def _shape(x: object) -> object:
    return tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__


def _check_tensor(x: object, name: str, floating: bool = False) -> Tensor:
    if not isinstance(x, Tensor) or (floating and not x.is_floating_point()):
        kind = "a floating-point tensor" if floating else "a tensor"
        raise ValueError(f"{name} must be {kind}, got {_shape(x)}")
    return x


def check_split(split: object) -> DigitsSplit:
    """``split`` itself if it is a :class:`DigitsSplit`, else a ``ValueError`` that
    names ``split`` (for the chapters' recipes that take the split)."""
    if not isinstance(split, DigitsSplit):
        raise ValueError(f"split must be a DigitsSplit, got {type(split).__name__}")
    return split


def load_digits_split() -> DigitsSplit:
    """Load the digits bundled with scikit-learn (no download) and split them."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.as_tensor(bunch.data, dtype=torch.float32)
    y = torch.as_tensor(bunch.target, dtype=torch.int64)
    return DigitsSplit(
        x[:1000], x[1000:1350], x[1350:], y[:1000], y[1000:1350], y[1350:]
    )


def to_unit(pixels: Tensor) -> Tensor:
    """Pixel values in [0, 16] to the networks' scale [-1, 1]."""
    _check_tensor(pixels, "pixels")
    return pixels / 8.0 - 1.0


def to_pixels(unit: Tensor) -> Tensor:
    """The networks' scale [-1, 1] back to pixel values in [0, 16]."""
    _check_tensor(unit, "unit")
    return (unit + 1.0) * 8.0


def dequantize(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """``x + u`` with ``u ~ U[0, 1)`` elementwise (``generator`` on the CPU)."""
    _check_tensor(x, "x", floating=True)
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype)
    return x + u.to(x.device)


def dequantized_sampler(x: Tensor) -> Callable[[int, torch.Generator], Tensor]:
    """A sampler ``(batch_size, generator) -> Tensor`` for
    :func:`~tutorial_lib.train.fit`: rows of ``x`` drawn with replacement, each with
    fresh uniform noise."""
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[0] == 0:
        raise ValueError(f"x must be a non-empty (N, D) tensor, got {_shape(x)}")

    def sample(n: int, generator: torch.Generator) -> Tensor:
        idx = torch.randint(0, x.shape[0], (n,), generator=generator)
        return dequantize(x[idx.to(x.device)], generator)

    return sample
