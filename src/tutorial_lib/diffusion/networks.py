r"""Denoisers: networks that predict the noise :math:`\hat\epsilon(z_t, \lambda_t)` of
a latent :math:`z_t = \alpha_t x + \sigma_t \epsilon`.

Every denoiser is called as ``model(z, logsnr) -> eps_hat`` with ``z`` of shape
``(n, d)`` and ``logsnr`` of shape ``(n,)``. :class:`MLPDenoiser` predicts
:math:`\epsilon` directly (for continuous 2-D data). :class:`DiscreteDenoiser` is for
data on a grid of ``levels`` values in :math:`[-1, 1]` (the digits): it predicts a
categorical distribution over the values of each pixel, takes its mean as
:math:`\hat x` and returns :math:`\hat\epsilon = (z - \alpha \hat x)/\sigma`. Its
logits are the exact posterior of an independent-pixel model (learned per-pixel prior
logits plus the Gaussian likelihood of :math:`z_t`) plus an MLP's correction that
starts at zero, so an untrained model is already the independent-pixel model's exact
denoiser and at high signal-to-noise ratio it rounds to the right value.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..nn import mlp
from .schedule import alpha_sigma

__all__ = [
    "logsnr_features",
    "MLPDenoiser",
    "DiscreteDenoiser",
    "grid_values",
    "empirical_logits",
]


def logsnr_features(logsnr: Tensor, frequencies: int) -> Tensor:
    r"""Features of the log-SNR, ``(n, 1 + 2 * frequencies)``: :math:`u = \lambda/10`,
    then :math:`\sin(2^j u)`, :math:`\cos(2^j u)` for :math:`j < ` ``frequencies``."""
    if not isinstance(frequencies, int) or frequencies < 0:
        raise ValueError(f"frequencies must be an int >= 0, got {frequencies!r}")
    u = (logsnr / 10.0)[:, None]  # (n, 1)
    scales = 2.0 ** torch.arange(frequencies, dtype=u.dtype, device=u.device)
    return torch.cat([u, torch.sin(u * scales), torch.cos(u * scales)], 1)


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")


def _check_call(z: Tensor, logsnr: Tensor, dim: int) -> None:
    if not isinstance(z, Tensor) or z.dim() != 2 or z.shape[1] != dim:
        raise ValueError(f"z must have shape (n, {dim})")
    if not isinstance(logsnr, Tensor) or logsnr.shape != z.shape[:1]:
        raise ValueError(f"logsnr must have shape ({z.shape[0]},)")


class MLPDenoiser(nn.Module):
    r""":math:`\hat\epsilon = \mathrm{MLP}([z, \phi(\lambda)])`, with the log-SNR
    features :math:`\phi` of :func:`logsnr_features`."""

    def __init__(
        self, dim: int, hidden: int = 128, depth: int = 3, frequencies: int = 4
    ):
        super().__init__()
        _check_sizes(dim=dim, hidden=hidden, depth=depth)
        if not isinstance(frequencies, int) or frequencies < 0:
            raise ValueError(f"frequencies must be an int >= 0, got {frequencies!r}")
        self.dim, self.frequencies = dim, frequencies
        self.net = mlp(dim + 1 + 2 * frequencies, dim, hidden, depth, "gelu")

    def forward(self, z: Tensor, logsnr: Tensor) -> Tensor:
        _check_call(z, logsnr, self.dim)
        return self.net(torch.cat([z, logsnr_features(logsnr, self.frequencies)], 1))


def grid_values(levels: int) -> Tensor:
    """The ``levels`` equally spaced values from -1 to 1 (pixel ``k`` of 0..L-1 is
    ``2k/(L-1) - 1``, :func:`~tutorial_lib.data.to_unit` for the digits)."""
    if not isinstance(levels, int) or isinstance(levels, bool) or levels < 2:
        raise ValueError(f"levels must be an int >= 2, got {levels!r}")
    return torch.linspace(-1.0, 1.0, levels)


class DiscreteDenoiser(nn.Module):
    r"""A denoiser for data on ``levels`` grid values: per pixel :math:`i` the logits

    .. math::
        \ell_{ik} = b_{ik} - \frac{(z_i - \alpha c_k)^2}{2\sigma^2}
            + f_\theta(z, \lambda)_{ik},

    :math:`\hat x_i = \sum_k \operatorname{softmax}(\ell_i)_k c_k` and
    :math:`\hat\epsilon = (z - \alpha\hat x)/\sigma`. ``prior_logits`` ``(dim,
    levels)`` initialises :math:`b` (for example the log-frequencies of the training
    pixels); the network :math:`f_\theta` sees :math:`z`, the independent-pixel
    estimate of :math:`x` and :math:`\phi(\lambda)`, and starts at zero: an MLP of
    ``depth`` layers of ``hidden`` units (with ``dropout``), or, when ``shape`` ``(H,
    W)`` is given, ``depth`` residual 3x3 convolutions of ``hidden`` channels over the
    image with :math:`z`, the estimate and the broadcast features as channels."""

    def __init__(
        self,
        dim: int,
        levels: int,
        hidden: int = 512,
        depth: int = 2,
        frequencies: int = 4,
        prior_logits: Tensor | None = None,
        dropout: float = 0.0,
        shape: tuple[int, int] | None = None,
    ):
        super().__init__()
        _check_sizes(dim=dim, hidden=hidden, depth=depth)
        if not isinstance(frequencies, int) or frequencies < 0:
            raise ValueError(f"frequencies must be an int >= 0, got {frequencies!r}")
        self.dim, self.levels, self.frequencies = dim, levels, frequencies
        self.register_buffer("values", grid_values(levels))
        if prior_logits is None:
            prior_logits = torch.zeros(dim, levels)
        if not isinstance(prior_logits, Tensor) or prior_logits.shape != (dim, levels):
            raise ValueError(f"prior_logits must have shape ({dim}, {levels})")
        self.prior_logits = nn.Parameter(prior_logits.detach().float().clone())
        if shape is None:
            d_in = 2 * dim + 1 + 2 * frequencies
            self.net = mlp(
                d_in, dim * levels, hidden, depth, "gelu", dropout, zero_last=True
            )
        else:
            if (
                not isinstance(shape, tuple)
                or len(shape) != 2
                or shape[0] * shape[1] != dim
            ):
                raise ValueError(
                    f"shape must be (H, W) with H * W = dim, got {shape!r}"
                )
            self.net = _ConvCorrection(
                shape, levels, hidden, depth, 1 + 2 * frequencies
            )
        self.shape = shape

    def logits(self, z: Tensor, logsnr: Tensor) -> Tensor:
        """The logits :math:`\\ell` over the grid values, ``(n, dim, levels)``."""
        _check_call(z, logsnr, self.dim)
        alpha, sigma = alpha_sigma(logsnr[:, None, None])
        c = self.values.to(z.dtype)
        gauss = -((z[:, :, None] - alpha * c) ** 2) / (2 * sigma**2)  # (n, d, L)
        base = self.prior_logits.to(z.dtype) + gauss
        independent = (torch.softmax(base, -1) * c).sum(-1)  # (n, d)
        h = torch.cat([z, independent, logsnr_features(logsnr, self.frequencies)], 1)
        return base + self.net(h).view(-1, self.dim, self.levels)

    def x_hat(self, z: Tensor, logsnr: Tensor) -> Tensor:
        r""":math:`\hat x = E[x | z]` under the predicted categoricals, ``(n, dim)``."""
        return (torch.softmax(self.logits(z, logsnr), -1) * self.values).sum(-1)

    def forward(self, z: Tensor, logsnr: Tensor) -> Tensor:
        alpha, sigma = alpha_sigma(logsnr[:, None])
        return (z - alpha * self.x_hat(z, logsnr)) / sigma


class _ConvCorrection(nn.Module):
    """The convolutional :math:`f_\\theta`: the inputs of :class:`DiscreteDenoiser`
    as channels of an ``shape`` image (the log-SNR features broadcast), ``depth``
    residual 3x3 convolutions of ``width`` channels, a zero-initialised 1x1 output
    with ``levels`` channels."""

    def __init__(self, shape, levels, width, depth, features):
        super().__init__()
        self.shape, self.levels, self.features = shape, levels, features
        self.stem = nn.Conv2d(2 + features, width, 3, padding=1)
        self.blocks = nn.ModuleList(
            nn.Conv2d(width, width, 3, padding=1) for _ in range(depth)
        )
        self.out = nn.Conv2d(width, levels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, h: Tensor) -> Tensor:
        n, (height, width) = len(h), self.shape
        d = height * width
        pixels = h[:, : 2 * d].view(n, 2, height, width)
        feats = h[:, 2 * d :, None, None].expand(n, self.features, height, width)
        u = torch.nn.functional.gelu(self.stem(torch.cat([pixels, feats], 1)))
        for block in self.blocks:
            u = u + torch.nn.functional.gelu(block(u))  # (n, width, H, W)
        out = self.out(u)  # (n, levels, H, W)
        return out.permute(0, 2, 3, 1).reshape(n, d * self.levels)


def empirical_logits(pixels: Tensor, levels: int, pseudocount: float = 1.0) -> Tensor:
    """Log-frequencies ``(dim, levels)`` of each pixel's values in ``pixels``
    ``(N, dim)`` (integers 0..levels-1), with ``pseudocount`` added to every count."""
    if not isinstance(pixels, Tensor) or pixels.dim() != 2:
        raise ValueError("pixels must be an (N, dim) tensor of integer values")
    if not pseudocount > 0:
        raise ValueError(f"pseudocount must be > 0, got {pseudocount!r}")
    grid_values(levels)
    counts = torch.stack(
        [torch.bincount(col.long(), minlength=levels).float() for col in pixels.T]
    )
    counts = counts + pseudocount  # (dim, levels)
    return counts.log() - counts.sum(1, keepdim=True).log()
