r"""PixelCNN: masked convolutions (van den Oord et al. 2016, arXiv:1601.06759) and the
gated two-stack PixelCNN (van den Oord et al. 2016b, arXiv:1606.05328).

Pixels are ordered in raster order (row by row, left to right). A masked convolution
zeroes the kernel's weights at and after the centre: type **A** (first layer) hides the
centre pixel itself, type **B** (later layers) lets a unit see its own position, which
after a type-A layer holds only information from earlier pixels.

Stacking 3x3 masked convolutions leaves a **blind spot**: the receptive field grows up
and to the left but never reaches the pixels above and to the right beyond the kernel's
reach, although they come earlier in the order. The gated PixelCNN splits the network
into a **vertical stack** (a full-width kernel over the rows above) and a
**horizontal stack** (the pixels to the left in the current row) with a one-row shift
from the vertical into the horizontal stack, so every earlier pixel within reach is
seen. Its units are
gated, :math:`y = \tanh(W_f * h) \odot \sigma(W_g * h)`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .base import AutoregressiveModel

__all__ = ["pixelcnn_mask", "MaskedConv2d", "PixelCNN", "GatedPixelCNN"]

MASK_TYPES = ("A", "B", "V")


def pixelcnn_mask(kh: int, kw: int, kind: str) -> Tensor:
    """A ``(kh, kw)`` 0/1 kernel mask, centre ``(kh // 2, kw // 2)``.

    ``"A"``: the rows above the centre and the pixels left of it; ``"B"``: the same and
    the centre; ``"V"`` (vertical stack): every row up to and including the centre row.
    """
    for name, value in (("kh", kh), ("kw", kw)):
        if not isinstance(value, int) or value < 1 or value % 2 == 0:
            raise ValueError(f"{name} must be an odd int >= 1, got {value!r}")
    if kind not in MASK_TYPES:
        raise ValueError(f"kind must be one of {MASK_TYPES}, got {kind!r}")
    ch, cw = kh // 2, kw // 2
    mask = torch.zeros(kh, kw)
    mask[:ch] = 1.0
    if kind == "V":
        mask[ch] = 1.0
    else:
        mask[ch, : cw + (kind == "B")] = 1.0
    return mask


class MaskedConv2d(nn.Conv2d):
    """A same-size convolution whose ``(kh, kw)`` kernel is multiplied by
    :func:`pixelcnn_mask` ``(kh, kw, kind)`` for every channel pair."""

    def __init__(self, c_in: int, c_out: int, kernel: int | tuple[int, int], kind: str):
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        mask = pixelcnn_mask(kh, kw, kind)  # validates kh, kw, kind
        super().__init__(c_in, c_out, (kh, kw), padding=(kh // 2, kw // 2))
        self.kind = kind
        self.register_buffer("mask", mask[None, None])  # (1, 1, kh, kw)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


def _check_image(shape: object, levels: int, channels: int, layers: int, kernel: int):
    if (
        not isinstance(shape, tuple)
        or len(shape) != 2
        or not all(isinstance(s, int) and s >= 2 for s in shape)
    ):
        raise ValueError(f"shape must be a tuple (H, W) of ints >= 2, got {shape!r}")
    for name, value, low in (
        ("levels", levels, 2),
        ("channels", channels, 1),
        ("layers", layers, 1),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if not isinstance(kernel, int) or kernel < 3 or kernel % 2 == 0:
        raise ValueError(f"kernel must be an odd int >= 3, got {kernel!r}")


class _ImageModel(AutoregressiveModel):
    """Raster order over an ``(H, W)`` image; the networks see ``(N, 1, H, W)``."""

    def _setup(self, shape: tuple[int, int], levels: int, hidden: int) -> None:
        self.shape, self.levels = shape, levels
        self.dim = shape[0] * shape[1]
        self.register_buffer("order", torch.arange(self.dim))
        self.head = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(hidden, hidden, 1),
            nn.ReLU(),
            nn.Conv2d(hidden, levels, 1),
        )

    def image(self, x: Tensor) -> Tensor:
        return self.encode(x).reshape(-1, 1, *self.shape)  # (N, 1, H, W)

    def to_logits(self, h: Tensor) -> Tensor:
        out = self.head(h)  # (N, L, H, W)
        return out.flatten(2).transpose(1, 2)  # (N, D, L)


class PixelCNN(_ImageModel):
    r"""The plain PixelCNN: a type-A ``first_kernel`` convolution, then ``layers``
    residual blocks ``h + conv_B(relu(h))`` with ``kernel`` x ``kernel`` type-B masks,
    then a 1x1 head to ``levels`` logits per pixel. Has the blind spot."""

    def __init__(
        self,
        shape: tuple[int, int] = (8, 8),
        levels: int = 17,
        channels: int = 32,
        layers: int = 4,
        kernel: int = 3,
        first_kernel: int = 5,
    ):
        super().__init__()
        _check_image(shape, levels, channels, layers, kernel)
        if (
            not isinstance(first_kernel, int)
            or first_kernel < 3
            or first_kernel % 2 == 0
        ):
            raise ValueError(
                f"first_kernel must be an odd int >= 3, got {first_kernel!r}"
            )
        self._setup(shape, levels, channels)
        self.first = MaskedConv2d(1, channels, first_kernel, "A")
        self.blocks = nn.ModuleList(
            MaskedConv2d(channels, channels, kernel, "B") for _ in range(layers)
        )

    def logits(self, x: Tensor) -> Tensor:
        """Logits ``(N, H*W, levels)`` in raster order (teacher forcing)."""
        h = self.first(self.image(x))  # (N, C, H, W)
        for conv in self.blocks:
            h = h + conv(F.relu(h))
        return self.to_logits(h)


def _gate(h: Tensor) -> Tensor:
    a, b = h.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


def _shift_down(h: Tensor) -> Tensor:
    """Row ``r`` of the result is row ``r - 1`` of ``h`` (zeros in row 0)."""
    return F.pad(h, (0, 0, 1, 0))[:, :, :-1]


class GatedLayer(nn.Module):
    r"""One layer of the gated PixelCNN (van den Oord et al. 2016b, fig. 2).

    Vertical stack: ``v' = gate(conv_V(v))`` over the rows up to the current one.
    Horizontal stack: ``h' = h + W(gate(conv_h(h) + U shift_down(conv_V(v))))``; the
    one-row shift keeps the current row of the vertical stack out of the horizontal one.
    The first layer (``first=True``) masks the horizontal kernel with type A (the pixel
    itself hidden) and has no residual connection.
    """

    def __init__(self, c_in: int, channels: int, kernel: int, first: bool):
        super().__init__()
        self.first = first
        self.v_conv = MaskedConv2d(c_in, 2 * channels, kernel, "V")
        h_kind = "A" if first else "B"
        self.h_conv = MaskedConv2d(c_in, 2 * channels, (1, kernel), h_kind)
        self.v_to_h = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.h_out = nn.Conv2d(channels, channels, 1)

    def forward(
        self,
        v: Tensor,
        h: Tensor,
        bias_v: Tensor | None = None,
        bias_h: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """``bias_v`` and ``bias_h`` (broadcast to ``(N, 2C, H, W)``), when given, are
        added to the pre-activations of the two stacks: the conditioning of the
        conditional PixelCNN (van den Oord et al. 2016b, eq. 4)."""
        v_raw = self.v_conv(v)  # (N, 2C, H, W), rows <= r
        if bias_v is not None:
            v_raw = v_raw + bias_v
        h_raw = self.h_conv(h) + self.v_to_h(_shift_down(v_raw))
        if bias_h is not None:
            h_raw = h_raw + bias_h
        h_new = self.h_out(_gate(h_raw))
        return _gate(v_raw), h_new if self.first else h + h_new


class GatedPixelCNN(_ImageModel):
    r"""The gated two-stack PixelCNN: ``layers`` :class:`GatedLayer` with ``kernel``
    wide kernels and ``channels`` channels, then a 1x1 head to ``levels`` logits per
    pixel. No blind spot: the logits of pixel :math:`(r, c)` depend on every earlier
    pixel within ``layers`` rows above and ``layers * (kernel // 2)`` columns."""

    def __init__(
        self,
        shape: tuple[int, int] = (8, 8),
        levels: int = 17,
        channels: int = 32,
        layers: int = 4,
        kernel: int = 3,
    ):
        super().__init__()
        _check_image(shape, levels, channels, layers, kernel)
        self._setup(shape, levels, channels)
        self.layers = nn.ModuleList(
            GatedLayer(1 if i == 0 else channels, channels, kernel, first=i == 0)
            for i in range(layers)
        )

    def logits(self, x: Tensor) -> Tensor:
        """Logits ``(N, H*W, levels)`` in raster order (teacher forcing)."""
        v = h = self.image(x)  # (N, 1, H, W)
        for layer in self.layers:
            v, h = layer(v, h)
        return self.to_logits(h)
