r"""Sampling and the score view of a trained denoiser.

The score of the noisy marginal is :math:`\nabla_z \log q_t(z) = -E[\epsilon | z]/
\sigma_t`, so a noise predictor is a score model, :math:`s_\theta = -\hat\epsilon/
\sigma_t` (Vincent 2011; Song et al. 2021, arXiv:2011.13456), and Tweedie's formula
:math:`E[x | z_t] = (z_t + \sigma_t^2 \nabla \log q_t(z_t))/\alpha_t` turns it back
into a denoised estimate. Samples come from ancestral sampling through the reverse
steps :math:`p(z_s | z_t) = q(z_s | z_t, \hat x)` (Ho et al. 2020) or from the
probability-flow ODE

.. math::
    \frac{dz}{dt} = f(t) z - \tfrac12 g(t)^2 \nabla \log q_t(z)
        = \tfrac12 \lambda'_t (\sigma_t^2 z - \sigma_t \hat\epsilon),

whose marginals are those of the diffusion, and which gives an exact log-likelihood
of the model through the instantaneous change of variables
(:func:`~tutorial_lib.flows.ode_log_prob`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..flows import ode_log_prob, odeint
from .objectives import x_from_eps
from .schedule import LogSNRSchedule, alpha_sigma, posterior

__all__ = [
    "score",
    "tweedie",
    "ancestral_sample",
    "pf_ode_velocity",
    "pf_ode_sample",
    "pf_ode_log_prob",
]


def _check_steps(steps: int) -> None:
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")


def score(model: nn.Module, z: Tensor, logsnr: Tensor) -> Tensor:
    r"""The model's score :math:`-\hat\epsilon(z, \lambda)/\sigma`, ``(n, d)``."""
    _, sigma = alpha_sigma(logsnr[:, None])
    return -model(z, logsnr) / sigma


def tweedie(z: Tensor, score_z: Tensor, logsnr: Tensor) -> Tensor:
    r"""Tweedie's formula :math:`E[x | z] = (z + \sigma^2 \nabla\log q(z))/\alpha`
    from a score ``score_z`` at ``z`` (one ``logsnr`` per row)."""
    if not isinstance(score_z, Tensor) or score_z.shape != z.shape:
        raise ValueError(f"score_z must have the shape of z, {tuple(z.shape)}")
    alpha, sigma = alpha_sigma(logsnr[:, None])
    return (z + sigma**2 * score_z) / alpha


def _denoise(model: nn.Module, z: Tensor, logsnr: Tensor) -> Tensor:
    if hasattr(model, "x_hat"):
        return model.x_hat(z, logsnr)
    return x_from_eps(z, model(z, logsnr), logsnr)


@torch.no_grad()
def ancestral_sample(
    model: nn.Module,
    n: int,
    dim: int,
    schedule: LogSNRSchedule,
    steps: int,
    generator: torch.Generator,
) -> Tensor:
    r"""``n`` draws of :math:`z_0` by ``steps`` reverse steps from
    :math:`z_1 \sim \mathcal N(0, I)`, each :math:`z_s \sim q(z_s | z_t, \hat x(z_t))`;
    the noise comes from ``generator`` (on the CPU). Returns ``(n, dim)``."""
    _check_steps(steps)
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    device = next(model.parameters()).device
    times = schedule.grid(steps).to(device)
    z = torch.randn((n, dim), generator=generator).to(device)
    for i in range(steps, 0, -1):
        lt = schedule.logsnr(times[i]).expand(n)
        ls = schedule.logsnr(times[i - 1]).expand(n)
        mean, var = posterior(_denoise(model, z, lt), z, ls, lt)
        noise = torch.randn((n, dim), generator=generator).to(device)
        z = mean + var.sqrt() * noise
    return z


def pf_ode_velocity(
    model: nn.Module, schedule: LogSNRSchedule
) -> Callable[[Tensor, Tensor], Tensor]:
    r"""The probability-flow velocity :math:`v(t, z) = \tfrac12 \lambda'_t
    (\sigma_t^2 z - \sigma_t \hat\epsilon(z, \lambda_t))` as a function ``(t, z)`` for
    :func:`~tutorial_lib.flows.odeint`."""
    if not isinstance(schedule, LogSNRSchedule):
        raise ValueError(f"schedule must be a LogSNRSchedule, got {schedule!r}")

    def velocity(t: Tensor, z: Tensor) -> Tensor:
        logsnr = schedule.logsnr(t).expand(len(z))
        _, sigma = alpha_sigma(logsnr[:, None])
        eps = model(z, logsnr)
        return 0.5 * schedule.slope * (sigma**2 * z - sigma * eps)

    return velocity


@torch.no_grad()
def pf_ode_sample(
    model: nn.Module,
    n: int,
    dim: int,
    schedule: LogSNRSchedule,
    steps: int,
    generator: torch.Generator,
    method: str = "rk4",
) -> Tensor:
    r"""``n`` samples :math:`z_0` by solving the probability-flow ODE from
    :math:`z_1 \sim \mathcal N(0, I)` to :math:`t = 0` (deterministic given
    :math:`z_1`), ``(n, dim)``."""
    _check_steps(steps)
    device = next(model.parameters()).device
    z = torch.randn((n, dim), generator=generator).to(device)
    return odeint(pf_ode_velocity(model, schedule), z, 1.0, 0.0, steps, method)


def pf_ode_log_prob(
    model: nn.Module,
    schedule: LogSNRSchedule,
    x: Tensor,
    steps: int,
    method: str = "rk4",
) -> Tensor:
    r"""The model's log-density of ``x`` ``(n, d)`` through the probability-flow ODE:
    :math:`z_0 = \alpha_0 x` is carried to :math:`t = 1` with the exact divergence,
    the base is :math:`\mathcal N(0, I)`, and the change of scale adds
    :math:`d \log\alpha_0` (the model's :math:`x` is :math:`z_0/\alpha_0`), ``(n,)``."""
    _check_steps(steps)
    alpha0, _ = schedule.alpha_sigma(torch.zeros((), dtype=x.dtype))
    d = x.shape[1]

    def base(z: Tensor) -> Tensor:
        return -0.5 * (z**2).sum(1) - 0.5 * d * math.log(2 * math.pi)

    log_p, _ = ode_log_prob(
        pf_ode_velocity(model, schedule), alpha0 * x, 0.0, 1.0, steps, base, method
    )
    return log_p + d * alpha0.log()
