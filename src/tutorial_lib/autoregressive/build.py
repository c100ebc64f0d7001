"""Autoregressive architectures built from a frozen configuration."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import AutoregressiveModel
from .made import CategoricalMADE
from .pixelcnn import GatedPixelCNN, PixelCNN

__all__ = ["AR_KINDS", "ARConfig", "build_ar"]

#: The architectures :func:`build_ar` knows.
AR_KINDS = ("made", "pixelcnn", "gated")


@dataclass(frozen=True)
class ARConfig:
    """One autoregressive architecture.

    ``kind``: ``"made"`` (:class:`~.made.CategoricalMADE`: ``width`` hidden units in
    ``depth`` masked layers, ``dropout`` after each), ``"pixelcnn"``
    (:class:`~.pixelcnn.PixelCNN`: ``width`` channels, ``depth`` type-B blocks,
    ``kernel``, ``first_kernel``) or ``"gated"`` (:class:`~.pixelcnn.GatedPixelCNN`:
    ``width`` channels, ``depth`` gated layers, ``kernel``).
    """

    kind: str
    width: int = 512
    depth: int = 2
    dropout: float = 0.0
    kernel: int = 3
    first_kernel: int = 5

    def __post_init__(self) -> None:
        if self.kind not in AR_KINDS:
            raise ValueError(f"kind must be one of {AR_KINDS}, got {self.kind!r}")
        for name in ("width", "depth"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.dropout and self.kind != "made":
            raise ValueError(f"dropout is only for kind 'made', got kind {self.kind!r}")
        for name in ("kernel", "first_kernel"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 3 or value % 2 == 0:
                raise ValueError(f"{name} must be an odd int >= 3, got {value!r}")


def build_ar(
    config: ARConfig,
    shape: tuple[int, int] = (8, 8),
    levels: int = 17,
    order: torch.Tensor | None = None,
) -> AutoregressiveModel:
    """The model of ``config`` for ``shape`` images with ``levels`` values; ``order``
    (a permutation of the ``H*W`` pixels, MADE only; default raster order)."""
    if not isinstance(config, ARConfig):
        raise ValueError(f"config must be an ARConfig, got {type(config).__name__}")
    if order is not None and config.kind != "made":
        raise ValueError(f"order is only for kind 'made', got kind {config.kind!r}")
    if config.kind == "made":
        if not isinstance(shape, tuple) or len(shape) != 2:
            raise ValueError(f"shape must be a tuple (H, W), got {shape!r}")
        return CategoricalMADE(
            shape[0] * shape[1],
            levels,
            config.width,
            config.depth,
            order,
            config.dropout,
        )
    if config.kind == "pixelcnn":
        return PixelCNN(
            shape,
            levels,
            config.width,
            config.depth,
            config.kernel,
            config.first_kernel,
        )
    return GatedPixelCNN(shape, levels, config.width, config.depth, config.kernel)
