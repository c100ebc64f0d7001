r"""Masked autoregressive flows (Papamakarios et al. 2017, MAF, arXiv:1705.07057) with
MADE conditioners (Germain et al. 2015, arXiv:1502.03509).

Data to noise, feature by feature in an order :math:`\pi`:
:math:`z_i = \tau(x_i; \theta_i(x_{<i}))` with an elementwise bijection :math:`\tau`
(affine for MAF, a rational-quadratic spline for the autoregressive Neural Spline Flow).
All :math:`\theta_i` come from one masked network pass, so ``forward`` (density
evaluation, training) is fast; ``inverse`` (sampling) needs :math:`D` passes because
:math:`x_i` must be known before :math:`\theta_{i+1}` can be computed. The Jacobian is
triangular: :math:`\log|\det| = \sum_i \log|\partial \tau / \partial x_i|`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..nn import MADE
from .base import Transform, check_dim
from .splines import rq_spline, spline_params

__all__ = ["MaskedAutoregressive"]


_KINDS = ("affine", "spline")


class MaskedAutoregressive(Transform):
    r"""One autoregressive layer, data to noise.

    ``kind="affine"`` (MAF): :math:`z_i = (x_i - \mu_i) e^{-\alpha_i}`, log-det
    :math:`-\sum_i \alpha_i`, with :math:`\alpha` soft-clamped to :math:`\pm c`.
    ``kind="spline"``: :math:`z_i = \mathrm{RQS}(x_i; \theta_i(x_{<i}))` (Durkan et al.
    2019, arXiv:1906.04032). ``order`` is a permutation of ``0..dim-1`` (default:
    natural order; ``reverse=True`` for the reversed one).
    """

    def __init__(
        self,
        dim: int,
        hidden: int = 64,
        depth: int = 2,
        kind: str = "affine",
        reverse: bool = False,
        bins: int = 8,
        bound: float = 4.0,
        clamp: float = 3.0,
    ):
        super().__init__()
        self.dim = check_dim(dim)
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
        if kind == "spline" and bins < 2:
            raise ValueError(f"bins must be >= 2, got {bins}")
        if bound <= 0 or clamp <= 0:
            raise ValueError(
                f"bound and clamp must be > 0, got bound={bound}, clamp={clamp}"
            )
        order = torch.arange(dim).flip(0) if reverse else torch.arange(dim)
        self.register_buffer("order", order)
        self.kind, self.bins, self.bound, self.clamp = kind, bins, bound, clamp
        self.made = MADE(
            dim, 2 if kind == "affine" else 3 * bins + 1, hidden, depth, order
        )

    def _elementwise(
        self, x: Tensor, p: Tensor, inverse: bool
    ) -> tuple[Tensor, Tensor]:
        if self.kind == "affine":
            mu, alpha = p[..., 0], self.clamp * torch.tanh(p[..., 1] / self.clamp)
            if not inverse:
                return (x - mu) * torch.exp(-alpha), -alpha
            return x * torch.exp(alpha) + mu, alpha
        xs, ys, ds = spline_params(p, self.bins, self.bound)  # (N, D, K + 1)
        return rq_spline(x, xs, ys, ds, inverse=inverse)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self._check(x)
        z, logd = self._elementwise(x, self.made(x), inverse=False)
        return z, logd.sum(1)

    def inverse(self, z: Tensor) -> Tensor:
        self._check(z, "z")
        x = torch.zeros_like(z)
        for i in self.order.tolist():  # x_i needs x_<i: one network pass per feature
            params = self.made(x)[:, i : i + 1]  # (N, 1, P)
            xi, _ = self._elementwise(z[:, i : i + 1], params, inverse=True)
            x = x.clone()
            x[:, i] = xi[:, 0]
        return x
