r"""The forward (noising) process of a variance-preserving diffusion, written with the
log signal-to-noise ratio :math:`\lambda = \log(\alpha^2/\sigma^2)` (Kingma et al.
2021, arXiv:2107.00630).

A latent at time :math:`t \in [0, 1]` is :math:`z_t = \alpha_t x + \sigma_t \epsilon`,
:math:`\epsilon \sim \mathcal N(0, I)`, with :math:`\alpha_t^2 = \operatorname{sigmoid}
(\lambda_t)` and :math:`\sigma_t^2 = 1 - \alpha_t^2`. DDPM's notation (Ho et al. 2020,
arXiv:2006.11239) is :math:`\bar\alpha_t = \alpha_t^2`. For :math:`s < t` the
transition is :math:`q(z_t | z_s) = \mathcal N(\alpha_{t|s} z_s, \sigma_{t|s}^2 I)`
with :math:`\alpha_{t|s} = \alpha_t / \alpha_s` and
:math:`\sigma_{t|s}^2 = \sigma_t^2 - \alpha_{t|s}^2 \sigma_s^2`, and the posterior
:math:`q(z_s | z_t, x)` is Gaussian (:func:`posterior`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "LogSNRSchedule",
    "alpha_sigma",
    "q_sample",
    "transition",
    "posterior",
]


def _check_tensor(x: object, name: str) -> Tensor:
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise ValueError(
            f"{name} must be a floating-point tensor, got {type(x).__name__}"
        )
    return x


def alpha_sigma(logsnr: Tensor) -> tuple[Tensor, Tensor]:
    r""":math:`(\alpha, \sigma)` of a log-SNR :math:`\lambda`:
    :math:`\alpha^2 = \operatorname{sigmoid}(\lambda)`,
    :math:`\sigma^2 = \operatorname{sigmoid}(-\lambda)`."""
    _check_tensor(logsnr, "logsnr")
    return torch.sigmoid(logsnr).sqrt(), torch.sigmoid(-logsnr).sqrt()


@dataclass(frozen=True)
class LogSNRSchedule:
    r"""A linear log-SNR schedule :math:`\lambda_t = \lambda_{\max} + t\,
    (\lambda_{\min} - \lambda_{\max})` on :math:`t \in [0, 1]`: nearly clean at
    :math:`t = 0`, nearly pure noise at :math:`t = 1` (Kingma et al. 2021)."""

    logsnr_max: float = 10.0
    logsnr_min: float = -10.0

    def __post_init__(self) -> None:
        for name in ("logsnr_max", "logsnr_min"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if not self.logsnr_max > self.logsnr_min:
            raise ValueError(
                f"logsnr_max must exceed logsnr_min, got {self.logsnr_max} <= "
                f"{self.logsnr_min}"
            )

    @property
    def slope(self) -> float:
        r""":math:`d\lambda/dt = \lambda_{\min} - \lambda_{\max}` (negative)."""
        return self.logsnr_min - self.logsnr_max

    def logsnr(self, t: Tensor) -> Tensor:
        r""":math:`\lambda_t` for times ``t`` in [0, 1]."""
        _check_tensor(t, "t")
        return self.logsnr_max + self.slope * t

    def alpha_sigma(self, t: Tensor) -> tuple[Tensor, Tensor]:
        r""":math:`(\alpha_t, \sigma_t)`."""
        return alpha_sigma(self.logsnr(t))

    def grid(self, steps: int, dtype: torch.dtype = torch.float32) -> Tensor:
        """The times :math:`0, 1/T, \\dots, 1` of a ``steps``-step discretisation."""
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise ValueError(f"steps must be an int >= 1, got {steps!r}")
        return torch.linspace(0.0, 1.0, steps + 1, dtype=dtype)


def q_sample(x: Tensor, logsnr: Tensor, noise: Tensor) -> Tensor:
    r"""The closed-form marginal :math:`z_t = \alpha_t x + \sigma_t \epsilon`;
    ``logsnr`` has one value per row of ``x`` (or is a scalar)."""
    _check_tensor(x, "x")
    if not isinstance(noise, Tensor) or noise.shape != x.shape:
        raise ValueError(f"noise must have the shape of x, {tuple(x.shape)}")
    alpha, sigma = alpha_sigma(_rows(logsnr, x))
    return alpha * x + sigma * noise


def _rows(logsnr: Tensor, x: Tensor) -> Tensor:
    """``logsnr`` broadcast against ``x``: a scalar, or one value per row."""
    _check_tensor(logsnr, "logsnr")
    if logsnr.dim() == 0:
        return logsnr
    if logsnr.shape != x.shape[:1]:
        raise ValueError(
            f"logsnr must be a scalar or have one value per row of x, got "
            f"{tuple(logsnr.shape)}"
        )
    return logsnr.reshape(-1, *([1] * (x.dim() - 1)))


def _transition_coefficients(
    logsnr_s: Tensor, logsnr_t: Tensor
) -> tuple[Tensor, Tensor]:
    r""":math:`(\alpha_{t|s}, \sigma_{t|s}^2)` for :math:`\lambda_s > \lambda_t`, with
    :math:`\sigma_{t|s}^2 = \sigma_t^2 (1 - e^{\lambda_t - \lambda_s})` computed with
    ``expm1`` (no cancellation between close times)."""
    if bool((logsnr_s <= logsnr_t).any()):
        raise ValueError("logsnr_s must be larger than logsnr_t (s before t)")
    alpha_s, _ = alpha_sigma(logsnr_s)
    alpha_t, sigma_t = alpha_sigma(logsnr_t)
    return alpha_t / alpha_s, -(sigma_t**2) * torch.expm1(logsnr_t - logsnr_s)


def transition(
    z_s: Tensor, logsnr_s: Tensor, logsnr_t: Tensor, noise: Tensor
) -> Tensor:
    r"""One step of the chain, :math:`z_t = \alpha_{t|s} z_s + \sigma_{t|s}\epsilon`,
    from the less noisy time :math:`s` to :math:`t`."""
    _check_tensor(z_s, "z_s")
    if not isinstance(noise, Tensor) or noise.shape != z_s.shape:
        raise ValueError(f"noise must have the shape of z_s, {tuple(z_s.shape)}")
    a, var = _transition_coefficients(_rows(logsnr_s, z_s), _rows(logsnr_t, z_s))
    return a * z_s + var.sqrt() * noise


def posterior(
    x: Tensor, z_t: Tensor, logsnr_s: Tensor, logsnr_t: Tensor
) -> tuple[Tensor, Tensor]:
    r"""Mean and variance of :math:`q(z_s | z_t, x) = \mathcal N(\mu, v I)`,
    :math:`s < t`:

    .. math::
        \mu = \frac{\alpha_{t|s}\sigma_s^2}{\sigma_t^2} z_t
            + \frac{\alpha_s \sigma_{t|s}^2}{\sigma_t^2} x, \qquad
        v = \frac{\sigma_{t|s}^2 \sigma_s^2}{\sigma_t^2}.

    ``x`` is the data (or a denoiser's estimate of it); the variance is returned with
    the shape of ``logsnr_t`` broadcast against ``x``."""
    _check_tensor(x, "x")
    if not isinstance(z_t, Tensor) or z_t.shape != x.shape:
        raise ValueError(f"z_t must have the shape of x, {tuple(x.shape)}")
    ls, lt = _rows(logsnr_s, x), _rows(logsnr_t, x)
    a_ts, var_ts = _transition_coefficients(ls, lt)
    alpha_s, sigma_s = alpha_sigma(ls)
    _, sigma_t = alpha_sigma(lt)
    mean = (a_ts * sigma_s**2 * z_t + alpha_s * var_ts * x) / sigma_t**2
    return mean, var_ts * sigma_s**2 / sigma_t**2
