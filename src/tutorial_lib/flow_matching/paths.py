r"""Gaussian probability paths and their exact vector fields.

Time runs from noise to data: :math:`x_0 \sim \mathcal N(0, I)` at :math:`t = 0`,
:math:`x_1 \sim p_\text{data}` at :math:`t = 1`. A *Gaussian path* draws

.. math::
    x_t = \alpha_t x_1 + \sigma_t x_0 ,

so that :math:`p_t(x \mid x_1) = \mathcal N(\alpha_t x_1, \sigma_t^2 I)`. Its
*conditional* velocity, the time derivative along one pair :math:`(x_0, x_1)`, is
:math:`u_t = \dot\alpha_t x_1 + \dot\sigma_t x_0`; the *marginal* velocity
:math:`v_t(x) = \mathbb E[u_t \mid x_t = x]` transports :math:`p_0` to :math:`p_1`
(Lipman et al. 2023, arXiv:2210.02747; Liu et al. 2023, arXiv:2209.03003; Albergo and
Vanden-Eijnden 2023, arXiv:2209.15571). By Tweedie's formula
:math:`\mathbb E[x_0 \mid x_t] = -\sigma_t \nabla \log p_t(x_t)`, so

.. math::
    v_t(x) = \frac{\dot\alpha_t}{\alpha_t} x
    + \sigma_t\Bigl(\frac{\dot\alpha_t \sigma_t}{\alpha_t} - \dot\sigma_t\Bigr)
      \nabla \log p_t(x) ,

and for the variance-preserving path this is the probability-flow ODE of a diffusion
model (Song et al. 2021, arXiv:2011.13456).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "GaussianPath",
    "CondOTPath",
    "VPPath",
    "mixture_velocity",
    "mixture_log_prob",
]


def _check_t(t: Tensor | float, like: Tensor) -> Tensor:
    """``t`` as a tensor broadcastable against ``like`` ``(n, d)``: a number, a 0-dim
    tensor, or one time per row ``(n,)`` / ``(n, 1)``."""
    t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    if t.dim() == 0:
        t = t.reshape(1, 1)
    elif t.numel() == like.shape[0]:
        t = t.reshape(-1, 1)
    else:
        raise ValueError(
            f"t must be a number or hold one time per row ({like.shape[0]}), "
            f"got shape {tuple(t.shape)}"
        )
    if bool(((t < -1e-6) | (t > 1 + 1e-6)).any()):
        raise ValueError("t must lie in [0, 1]")
    return t.clamp(0.0, 1.0)  # a solver's last stage may overshoot by rounding


def _check_points(x: Tensor, name: str) -> Tensor:
    if not isinstance(x, Tensor) or x.dim() != 2 or not x.is_floating_point():
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a floating (n, d) tensor, got {shape}")
    return x


def _check_pair(x1: Tensor, t: Tensor | float, x0: Tensor) -> Tensor:
    """Check a (data, noise) pair of equal shapes ``(n, d)``; return ``t`` as
    :func:`_check_t` does."""
    _check_points(x1, "x1")
    if not isinstance(x0, Tensor) or x0.shape != x1.shape:
        raise ValueError(f"x0 must have the shape of x1, {tuple(x1.shape)}")
    return _check_t(t, x1)


class GaussianPath:
    r"""A Gaussian path :math:`x_t = \alpha_t x_1 + \sigma_t x_0`; subclasses define
    :meth:`alpha`, :meth:`sigma` and their time derivatives :meth:`d_alpha`,
    :meth:`d_sigma` (functions of a tensor ``t``)."""

    name = "gaussian"

    def alpha(self, t: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def sigma(self, t: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def d_alpha(self, t: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def d_sigma(self, t: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def sample(self, x1: Tensor, t: Tensor | float, x0: Tensor) -> Tensor:
        r""":math:`x_t = \alpha_t x_1 + \sigma_t x_0` for data ``x1`` and noise ``x0``
        ``(n, d)``."""
        t = _check_pair(x1, t, x0)
        return self.alpha(t) * x1 + self.sigma(t) * x0

    def conditional_velocity(
        self, x1: Tensor, t: Tensor | float, x0: Tensor
    ) -> Tensor:
        r"""The velocity along one pair, :math:`u_t = \dot\alpha_t x_1 +
        \dot\sigma_t x_0` ``(n, d)``: the regression target of flow matching."""
        t = _check_pair(x1, t, x0)
        return self.d_alpha(t) * x1 + self.d_sigma(t) * x0

    def velocity_from_score(
        self, x: Tensor, t: Tensor | float, score: Tensor
    ) -> Tensor:
        r"""The marginal velocity from the score :math:`\nabla\log p_t(x)`:
        :math:`\frac{\dot\alpha}{\alpha} x + \sigma(\frac{\dot\alpha\sigma}{\alpha}
        - \dot\sigma)\nabla\log p_t` (needs :math:`\alpha_t > 0`)."""
        _check_points(x, "x")
        if not isinstance(score, Tensor) or score.shape != x.shape:
            raise ValueError(f"score must have the shape of x, {tuple(x.shape)}")
        t = _check_t(t, x)
        a, s = self.alpha(t), self.sigma(t)
        if bool((a <= 0).any()):
            raise ValueError("t: alpha_t must be > 0 (no score form at pure noise)")
        da, ds = self.d_alpha(t), self.d_sigma(t)
        return da / a * x + s * (da * s / a - ds) * score


class CondOTPath(GaussianPath):
    r"""The conditional optimal-transport path of Lipman et al. (2023):
    :math:`\alpha_t = t`, :math:`\sigma_t = 1 - (1 - \sigma_\min) t`; with
    :math:`\sigma_\min = 0` the straight lines of rectified flow (Liu et al. 2023)."""

    name = "cond-OT"

    def __init__(self, sigma_min: float = 0.0):
        if not isinstance(sigma_min, (int, float)) or not 0 <= sigma_min < 1:
            raise ValueError(f"sigma_min must be in [0, 1), got {sigma_min!r}")
        self.sigma_min = float(sigma_min)

    def alpha(self, t: Tensor) -> Tensor:
        return t

    def sigma(self, t: Tensor) -> Tensor:
        return 1 - (1 - self.sigma_min) * t

    def d_alpha(self, t: Tensor) -> Tensor:
        return torch.ones_like(t)

    def d_sigma(self, t: Tensor) -> Tensor:
        return torch.full_like(t, -(1 - self.sigma_min))


class VPPath(GaussianPath):
    r"""The variance-preserving diffusion path in flow-matching time:
    :math:`\alpha_t = e^{-T(1-t)/2}`, :math:`\sigma_t = \sqrt{1 - \alpha_t^2}`, with
    :math:`T(s) = \int_0^s \beta = \beta_\min s + (\beta_\max - \beta_\min)s^2/2`
    (diffusion time :math:`s = 1 - t`; Song et al. 2021, Ho et al. 2020). At
    :math:`t = 0`, :math:`\alpha_0 = e^{-T(1)/2}` is small but not zero."""

    name = "VP diffusion"

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0):
        if not 0 < beta_min <= beta_max:
            raise ValueError(
                f"beta_min must be > 0 and <= beta_max, got {beta_min}, {beta_max}"
            )
        self.beta_min, self.beta_max = float(beta_min), float(beta_max)

    def beta(self, t: Tensor) -> Tensor:
        r""":math:`\beta(s)` at diffusion time :math:`s = 1 - t`."""
        return self.beta_min + (self.beta_max - self.beta_min) * (1 - t)

    def _integral(self, t: Tensor) -> Tensor:
        s = 1 - t
        return self.beta_min * s + 0.5 * (self.beta_max - self.beta_min) * s**2

    def alpha(self, t: Tensor) -> Tensor:
        return torch.exp(-0.5 * self._integral(t))

    def sigma(self, t: Tensor) -> Tensor:
        return torch.sqrt(-torch.expm1(-self._integral(t)))

    def d_alpha(self, t: Tensor) -> Tensor:
        return 0.5 * self.beta(t) * self.alpha(t)

    def d_sigma(self, t: Tensor) -> Tensor:
        # d/dt sqrt(1 - a^2) = -a a' / sigma
        a = self.alpha(t)
        return -a * self.d_alpha(t) / self.sigma(t)


def _mixture_parts(
    path: GaussianPath, t: Tensor | float, x: Tensor, means: Tensor, std: float
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    _check_points(x, "x")
    if (
        not isinstance(means, Tensor)
        or means.dim() != 2
        or means.shape[1] != x.shape[1]
    ):
        raise ValueError(f"means must be a (K, {x.shape[1]}) tensor")
    if not isinstance(std, (int, float)) or std < 0:
        raise ValueError(f"std must be a number >= 0, got {std!r}")
    t = _check_t(t, x)
    means = means.to(x)
    a, s = path.alpha(t), path.sigma(t)  # (n or 1, 1)
    var = a**2 * std**2 + s**2  # variance of p_t(. | component k)
    diff = x[:, None, :] - a[:, :, None] * means[None]  # (n, K, d)
    d = x.shape[1]
    log_comp = -0.5 * (diff**2).sum(-1) / var - 0.5 * d * torch.log(2 * math.pi * var)
    return t, var, diff, log_comp  # log_comp: (n, K)


def mixture_log_prob(
    path: GaussianPath, t: Tensor | float, x: Tensor, means: Tensor, std: float
) -> Tensor:
    r""":math:`\log p_t(x)` ``(n,)`` when the data are the equal-weight mixture
    :math:`\frac1K\sum_k\mathcal N(m_k, s^2 I)` (``means`` ``(K, d)``, ``std`` s; s = 0
    is an empirical data set): :math:`p_t = \frac1K\sum_k
    \mathcal N(\alpha_t m_k, (\alpha_t^2 s^2 + \sigma_t^2) I)`."""
    _, _, _, log_comp = _mixture_parts(path, t, x, means, std)
    return torch.logsumexp(log_comp, 1) - math.log(means.shape[0])


def mixture_velocity(
    path: GaussianPath, t: Tensor | float, x: Tensor, means: Tensor, std: float
) -> Tensor:
    r"""The exact marginal velocity :math:`v_t(x) = \mathbb E[u_t \mid x_t = x]`
    ``(n, d)`` for the equal-weight Gaussian mixture data of :func:`mixture_log_prob`.

    Given component :math:`k`, :math:`(x_1, x_t)` is jointly Gaussian, and with
    :math:`c = \alpha^2 s^2 + \sigma^2`,
    :math:`\mathbb E[u_t \mid x_t, k] = \dot\alpha m_k + \frac{\alpha\dot\alpha s^2
    + \sigma\dot\sigma}{c}(x - \alpha m_k)`; the components are weighted by their
    posterior probabilities :math:`\mathrm{softmax}_k \log \mathcal N(x; \alpha m_k,
    c I)`.
    """
    t, var, diff, log_comp = _mixture_parts(path, t, x, means, std)
    a, s = path.alpha(t), path.sigma(t)
    da, ds = path.d_alpha(t), path.d_sigma(t)
    gain = ((a * da * std**2 + s * ds) / var)[:, :, None]  # (n or 1, 1, 1)
    per_component = da[:, :, None] * means.to(x)[None] + gain * diff  # (n, K, d)
    weights = torch.softmax(log_comp, 1)[:, :, None]  # (n, K, 1)
    return (weights * per_component).sum(1)
