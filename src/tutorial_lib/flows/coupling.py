r"""Coupling layers: the features are split by a binary mask into a conditioning part
:math:`x_a` (copied unchanged) and a transformed part :math:`x_b`, whose elementwise
bijection has parameters computed from :math:`x_a` by a neural network. The Jacobian
is block triangular, so its log-determinant is the sum of the elementwise
log-derivatives, and the inverse costs one network pass.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..nn import mlp
from .base import Transform, check_dim
from .splines import rq_spline, spline_params

__all__ = ["AffineCoupling", "SplineCoupling", "alternating_masks", "check_mask"]


def check_mask(mask: Tensor | list[int] | list[bool], dim: int) -> Tensor:
    """Validate a coupling mask: ``dim`` entries in {0, 1}, both values present."""
    mask = torch.as_tensor(mask)
    if mask.dim() != 1 or mask.shape[0] != dim:
        raise ValueError(
            f"mask must be a 1-D tensor of length dim={dim}, "
            f"got shape {tuple(mask.shape)}"
        )
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError(
            f"mask entries must be 0 or 1 (or booleans), got {mask.tolist()}"
        )
    mask = mask.bool()
    if bool(mask.all()) or not bool(mask.any()):
        raise ValueError(
            "mask must condition on at least one feature and transform at least one, "
            f"got {mask.int().tolist()}"
        )
    return mask


def alternating_masks(dim: int, n: int) -> list[Tensor]:
    """``n`` masks for ``dim`` features that alternate between even and odd positions
    (for ``dim = 2``: condition on :math:`x_1`, then on :math:`x_2`, ...)."""
    check_dim(dim)
    if dim < 2:
        raise ValueError(f"coupling needs dim >= 2, got {dim}")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    even = torch.arange(dim) % 2 == 0
    return [even if i % 2 == 0 else ~even for i in range(n)]


class _Coupling(Transform):
    def __init__(self, dim: int, mask: Tensor, n_params: int, hidden: int, depth: int):
        super().__init__()
        self.dim = check_dim(dim)
        mask = check_mask(mask, dim)
        self.register_buffer("mask", mask)
        self.n_b = int((~mask).sum())
        self.n_params = n_params
        self.net = mlp(
            int(mask.sum()), self.n_b * n_params, hidden, depth, zero_last=True
        )

    def _params(self, x_a: Tensor) -> Tensor:
        return self.net(x_a).reshape(
            x_a.shape[0], self.n_b, self.n_params
        )  # (N, D_b, P)

    def _couple(self, x: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        self._check(x)
        x_a, x_b = x[:, self.mask], x[:, ~self.mask]
        y_b, logd = self._elementwise(
            x_b, self._params(x_a), inverse
        )  # (N, D_b), twice
        out = torch.empty_like(x)
        out[:, self.mask] = x_a
        out[:, ~self.mask] = y_b
        return out, logd.sum(1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self._couple(x, inverse=False)

    def inverse(self, z: Tensor) -> Tensor:
        return self._couple(z, inverse=True)[0]


class AffineCoupling(_Coupling):
    r"""RealNVP's affine coupling (Dinh et al. 2017, arXiv:1605.08803), data to noise:

    .. math::
        z_a = x_a, \qquad z_b = x_b \odot e^{s(x_a)} + t(x_a), \qquad
        \log|\det \partial z/\partial x| = \textstyle\sum_i s_i(x_a).

    The log-scale is soft-clamped, :math:`s = c \tanh(\tilde s / c)`, for stability.
    """

    def __init__(
        self,
        dim: int,
        mask: Tensor,
        hidden: int = 64,
        depth: int = 2,
        clamp: float = 3.0,
    ):
        if clamp <= 0:
            raise ValueError(f"clamp must be > 0, got {clamp}")
        super().__init__(dim, mask, 2, hidden, depth)
        self.clamp = clamp

    def _elementwise(
        self, x_b: Tensor, p: Tensor, inverse: bool
    ) -> tuple[Tensor, Tensor]:
        s = self.clamp * torch.tanh(p[..., 0] / self.clamp)
        t = p[..., 1]
        if not inverse:
            return x_b * torch.exp(s) + t, s
        return (x_b - t) * torch.exp(-s), -s


class SplineCoupling(_Coupling):
    r"""Rational-quadratic spline coupling (Durkan et al. 2019, arXiv:1906.04032):
    :math:`z_a = x_a`, :math:`z_b = \mathrm{RQS}(x_b; \theta(x_a))` elementwise with
    ``bins`` bins on :math:`[-B, B]` and linear tails (see
    :mod:`tutorial_lib.flows.splines`).
    """

    def __init__(
        self,
        dim: int,
        mask: Tensor,
        hidden: int = 64,
        depth: int = 2,
        bins: int = 8,
        bound: float = 4.0,
    ):
        if bins < 2:
            raise ValueError(f"bins must be >= 2, got {bins}")
        if bound <= 0:
            raise ValueError(f"bound must be > 0, got {bound}")
        super().__init__(dim, mask, 3 * bins + 1, hidden, depth)
        self.bins, self.bound = bins, bound

    def _elementwise(
        self, x_b: Tensor, p: Tensor, inverse: bool
    ) -> tuple[Tensor, Tensor]:
        xs, ys, ds = spline_params(p, self.bins, self.bound)  # (N, D_b, K + 1) each
        return rq_spline(x_b, xs, ys, ds, inverse=inverse)
