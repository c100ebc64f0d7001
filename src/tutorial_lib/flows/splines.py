r"""Monotone rational-quadratic splines, the building block of Neural Spline Flows
(Durkan et al. 2019, arXiv:1906.04032).

On :math:`[-B, B]` the spline has :math:`K` bins with knots :math:`(x_k, y_k)` and
positive knot derivatives :math:`\delta_k`, :math:`k = 0..K`. Inside bin :math:`k`, with
:math:`\xi = (x - x_k)/w_k`, :math:`s_k = h_k / w_k`,

.. math::
    y = y_k + h_k \frac{s_k \xi^2 + \delta_k \xi (1-\xi)}
                       {s_k + (\delta_{k+1} + \delta_k - 2 s_k)\,\xi(1-\xi)} .

Outside :math:`[-B, B]` the map is linear with the slope of the nearest boundary knot,
so it is a :math:`C^1` bijection of the whole real line. Unlike the original paper we
let the two boundary derivatives be learned (the paper fixes them to 1 to join identity
tails): a density with hard edges at :math:`\pm B` then needs no steep spline near the
edge.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["rq_spline", "spline_params", "MIN_BIN", "MIN_DERIVATIVE"]

#: Smallest bin width/height as a fraction of the interval, and smallest derivative.
MIN_BIN = 1e-3
MIN_DERIVATIVE = 1e-3
_SHIFT = math.log(math.expm1(1 - MIN_DERIVATIVE))


def spline_params(
    raw: Tensor, bins: int, bound: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Split unconstrained parameters ``raw`` of shape ``(..., 3K + 1)`` into knots.

    Returns ``(xs, ys, ds)``: knot abscissas and ordinates of shape ``(..., K + 1)``,
    increasing from :math:`-B` to :math:`B`, and positive knot derivatives
    ``(..., K + 1)``.
    A zero ``raw`` gives the identity on :math:`[-B, B]`.
    """
    if bins < 2:
        raise ValueError(f"bins must be >= 2, got {bins}")
    if raw.shape[-1] != 3 * bins + 1:
        raise ValueError(
            f"raw must have last dimension 3 * bins + 1 = {3 * bins + 1}, "
            f"got {raw.shape[-1]}"
        )
    w, h, d = raw[..., :bins], raw[..., bins : 2 * bins], raw[..., 2 * bins :]
    w = MIN_BIN + (1 - MIN_BIN * bins) * F.softmax(w, dim=-1)  # (..., K), sums to 1
    h = MIN_BIN + (1 - MIN_BIN * bins) * F.softmax(h, dim=-1)
    xs = _knots(w, bound)  # (..., K + 1), exactly -B .. B
    ys = _knots(h, bound)
    # raw 0 -> derivative exactly 1 (identity): softplus(_SHIFT) = 1 - MIN_DERIVATIVE
    ds = MIN_DERIVATIVE + F.softplus(d + _SHIFT)  # (..., K + 1)
    return xs, ys, ds


def _knots(widths: Tensor, bound: float) -> Tensor:
    inner = torch.cumsum(widths, -1)[..., :-1]  # (..., K - 1)
    zero = torch.zeros_like(inner[..., :1])
    return bound * (2 * torch.cat([zero, inner, zero + 1], -1) - 1)


def _gather(t: Tensor, k: Tensor) -> Tensor:
    return t.gather(-1, k[..., None])[..., 0]


def rq_spline(
    x: Tensor, xs: Tensor, ys: Tensor, ds: Tensor, *, inverse: bool = False
) -> tuple[Tensor, Tensor]:
    r"""Apply the spline (or its inverse) elementwise; return ``(y, log|dy/dx|)``.

    ``x`` has shape ``(...)``; ``xs, ys, ds`` have shape ``(..., K + 1)`` (as from
    :func:`spline_params`). With ``inverse=True`` the input is an ordinate and the
    result the abscissa, and the log-derivative returned is :math:`\log|dx/dy|`.
    """
    if not xs.shape == ys.shape == ds.shape or xs.shape[-1] < 3:
        raise ValueError(
            "xs, ys and ds must have the same shape (..., K + 1) with K >= 2 bins, got "
            f"{tuple(xs.shape)}, {tuple(ys.shape)}, {tuple(ds.shape)}"
        )
    if tuple(x.shape) != tuple(xs.shape[:-1]):
        raise ValueError(
            f"x must have shape {tuple(xs.shape[:-1])} (the knots' batch shape), "
            f"got {tuple(x.shape)}"
        )
    bound_lo, bound_hi = xs[..., 0], xs[..., -1]
    if inverse:
        knots_in, knots_out = ys, xs
    else:
        knots_in, knots_out = xs, ys
    inside = (x > bound_lo) & (x < bound_hi)
    xin = torch.where(inside, x, torch.zeros_like(x))
    k = (knots_in[..., 1:-1] <= xin[..., None]).sum(-1)  # (...), bin index in 0..K-1
    x0, x1 = _gather(xs, k), _gather(xs, k + 1)
    y0, y1 = _gather(ys, k), _gather(ys, k + 1)
    d0, d1 = _gather(ds, k), _gather(ds, k + 1)
    w, h = x1 - x0, y1 - y0
    s = h / w
    if not inverse:
        xi = (xin - x0) / w
        one = xi * (1 - xi)
        denom = s + (d1 + d0 - 2 * s) * one
        y = y0 + h * (s * xi**2 + d0 * one) / denom
        deriv = s**2 * (d1 * xi**2 + 2 * s * one + d0 * (1 - xi) ** 2) / denom**2
        logd = torch.log(deriv)
    else:
        dy = xin - y0
        c2 = d1 + d0 - 2 * s
        a = h * (s - d0) + dy * c2
        b = h * d0 - dy * c2
        c = -s * dy
        disc = (b**2 - 4 * a * c).clamp_min(0)
        xi = (2 * c) / (-b - disc.sqrt())
        one = xi * (1 - xi)
        denom = s + c2 * one
        y = x0 + xi * w
        deriv = s**2 * (d1 * xi**2 + 2 * s * one + d0 * (1 - xi) ** 2) / denom**2
        logd = -torch.log(deriv)
    # linear tails with the boundary slopes
    lo_slope, hi_slope = ds[..., 0], ds[..., -1]
    if not inverse:
        y_lo = bound_lo + lo_slope * (x - bound_lo)
        y_hi = bound_hi + hi_slope * (x - bound_hi)
        l_lo, l_hi = lo_slope.log(), hi_slope.log()
    else:
        y_lo = bound_lo + (x - bound_lo) / lo_slope
        y_hi = bound_hi + (x - bound_hi) / hi_slope
        l_lo, l_hi = -lo_slope.log(), -hi_slope.log()
    below = x <= bound_lo
    y = torch.where(inside, y, torch.where(below, y_lo, y_hi))
    logd = torch.where(inside, logd, torch.where(below, l_lo, l_hi))
    return y, logd
