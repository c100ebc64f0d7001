r"""The variational bound of a diffusion model on discrete data, term by term.

For data :math:`x` on a grid (the digits' 17 levels in :math:`[-1, 1]`) the model
is :math:`p(x) = \int p(z_1) \prod p(z_s | z_t)\, p(x | z_0)\, dz` with the reverse
steps :math:`p(z_s | z_t) = q(z_s | z_t, x = \hat x_\theta(z_t))`. Its bound
(Sohl-Dickstein et al. 2015, arXiv:1503.03585; Ho et al. 2020, arXiv:2006.11239;
Kingma et al. 2021, arXiv:2107.00630) is

.. math::
    -\log p(x) \le \underbrace{E_q[-\log p(x | z_0)]}_{\text{reconstruction}}
        + \underbrace{\mathrm{KL}(q(z_1 | x) \| p(z_1))}_{\text{prior}}
        + \underbrace{\sum_{i=1}^T E_q\, \mathrm{KL}(q(z_{s} | z_{t}, x) \|
          p(z_{s} | z_{t}))}_{\text{diffusion}},

each KL equal to :math:`\tfrac12 (\mathrm{SNR}_s - \mathrm{SNR}_t)
\|x - \hat x_\theta(z_t)\|^2`. As :math:`T \to \infty` the diffusion term becomes
:math:`-\tfrac12 \int_0^1 \lambda'_t\, E\|\epsilon - \hat\epsilon_\theta(z_t)\|^2 dt`,
estimated with stratified times (:func:`diffusion_loss`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .networks import grid_values
from .schedule import LogSNRSchedule, alpha_sigma, q_sample

__all__ = [
    "stratified_times",
    "x_from_eps",
    "decoder_log_probs",
    "prior_kl",
    "diffusion_loss",
    "discrete_diffusion_loss",
    "elbo_terms",
]


def stratified_times(n: int, generator: torch.Generator) -> Tensor:
    """``n`` times in [0, 1), one in each interval ``[i/n, (i+1)/n)`` after a common
    random shift (the low-discrepancy sampler of Kingma et al. 2021), in random order:
    each is uniform on [0, 1), and their mean has far less variance than ``n``
    independent draws."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    u = torch.rand((), generator=generator)
    t = torch.remainder(u + torch.arange(n) / n, 1.0)
    return t[torch.randperm(n, generator=generator)]


def x_from_eps(z: Tensor, eps: Tensor, logsnr: Tensor) -> Tensor:
    r""":math:`\hat x = (z - \sigma\hat\epsilon)/\alpha` (one ``logsnr`` per row)."""
    if not isinstance(eps, Tensor) or eps.shape != z.shape:
        raise ValueError(f"eps must have the shape of z, {tuple(z.shape)}")
    alpha, sigma = alpha_sigma(logsnr[:, None])
    return (z - sigma * eps) / alpha


def _check_levels(x: Tensor, levels: int) -> Tensor:
    values = grid_values(levels)
    if not isinstance(x, Tensor) or x.dim() != 2:
        raise ValueError("x must be an (n, d) tensor of integers 0..levels-1")
    if bool(((x < 0) | (x > levels - 1) | (x != x.round())).any()):
        raise ValueError(f"x must hold integers in 0..{levels - 1}")
    return values


def decoder_log_probs(z0: Tensor, logsnr0: Tensor, levels: int) -> Tensor:
    r"""The discrete decoder at :math:`t = 0`: :math:`p(x_i = k | z_0) \propto
    \exp(-(z_{0,i} - \alpha_0 c_k)^2 / 2\sigma_0^2)` over the grid values :math:`c_k`
    (Kingma et al. 2021), log-probabilities ``(n, d, levels)``."""
    c = grid_values(levels).to(z0)
    alpha, sigma = alpha_sigma(logsnr0.reshape(-1, 1, 1))
    logits = -((z0[..., None] - alpha * c) ** 2) / (2 * sigma**2)
    return torch.log_softmax(logits, -1)


def _recon(x: Tensor, levels: int, logsnr0: Tensor, noise: Tensor) -> Tensor:
    c = _check_levels(x, levels).to(noise)
    z0 = q_sample(c[x.long()], logsnr0, noise)
    logp = decoder_log_probs(z0, logsnr0.expand(len(x)), levels)
    return -logp.gather(-1, x.long()[..., None]).squeeze(-1).sum(1)


def prior_kl(x: Tensor, logsnr1: Tensor) -> Tensor:
    r""":math:`\mathrm{KL}(q(z_1 | x) \| \mathcal N(0, I))` per row of ``x`` (unit
    scale), with :math:`q(z_1|x) = \mathcal N(\alpha_1 x, \sigma_1^2 I)`."""
    alpha, sigma = alpha_sigma(logsnr1)
    var = sigma**2
    return 0.5 * ((alpha * x) ** 2 + var - 1.0 - var.log()).sum(1)


def diffusion_loss(
    model: nn.Module, x: Tensor, schedule: LogSNRSchedule, t: Tensor, noise: Tensor
) -> Tensor:
    r"""The continuous-time diffusion term for one :math:`(t, \epsilon)` per row:
    :math:`-\tfrac12 \lambda'_t \|\epsilon - \hat\epsilon_\theta(z_t, \lambda_t)\|^2`,
    ``(n,)``; its mean over :math:`t \sim U[0,1]` and :math:`\epsilon` is the term of
    the bound. For the linear log-SNR schedule :math:`\lambda'` is constant, so this is
    DDPM's "simple" noise-prediction loss times :math:`-\lambda'/2`."""
    if not isinstance(t, Tensor) or t.shape != x.shape[:1]:
        raise ValueError(f"t must have one time per row of x, shape ({len(x)},)")
    logsnr = schedule.logsnr(t)
    eps_hat = model(q_sample(x, logsnr, noise), logsnr)
    return -0.5 * schedule.slope * ((noise - eps_hat) ** 2).sum(1)


def discrete_diffusion_loss(
    model: nn.Module,
    x: Tensor,
    schedule: LogSNRSchedule,
    steps: int,
    i: Tensor,
    noise: Tensor,
) -> Tensor:
    r"""The diffusion term of a ``steps``-step model for one step index
    ``i`` in 1..T per row: :math:`T \cdot \tfrac12 (\mathrm{SNR}_s - \mathrm{SNR}_t)
    \|x - \hat x_\theta(z_t)\|^2` with :math:`t = i/T`, :math:`s = (i-1)/T`,
    ``(n,)``; its mean over uniform ``i`` is the sum of the ``T`` KL terms."""
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    if not isinstance(i, Tensor) or i.shape != x.shape[:1]:
        raise ValueError(f"i must have one step index per row of x, shape ({len(x)},)")
    if bool(((i < 1) | (i > steps)).any()):
        raise ValueError(f"i must be in 1..{steps}")
    t = i.to(x.dtype) / steps
    s = (i - 1).to(x.dtype) / steps
    logsnr_t, logsnr_s = schedule.logsnr(t), schedule.logsnr(s)
    eps_hat = model(q_sample(x, logsnr_t, noise), logsnr_t)
    err = ((noise - eps_hat) ** 2).sum(1)  # ||x - x_hat||^2 = err / SNR_t
    # (SNR_s - SNR_t) / SNR_t = expm1(logsnr_s - logsnr_t), without cancellation
    return 0.5 * steps * torch.expm1(logsnr_s - logsnr_t) * err


@torch.no_grad()
def elbo_terms(
    model: nn.Module,
    x: Tensor,
    schedule: LogSNRSchedule,
    levels: int,
    generator: torch.Generator,
    steps: int | None = None,
    samples: int = 1,
) -> dict[str, Tensor]:
    r"""The three terms of the negative bound for the integer images ``x`` ``(n,
    d)`` (values 0..levels-1), each ``(n,)`` in nats: ``"reconstruction"`` (one
    draw of :math:`z_0`), ``"prior"`` (exact) and ``"diffusion"`` (the mean of
    ``samples`` stratified draws of :math:`t` per image, continuous time when
    ``steps`` is None, else the ``steps``-step model with uniform step indices), and
    their sum ``"total"``. Every draw is unbiased, so ``total`` is an unbiased
    estimate of the bound for each image."""
    if not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be an int >= 1, got {samples!r}")
    c = _check_levels(x, levels).to(next(model.parameters()))
    x = x.to(c.device)
    unit = c[x.long()]  # (n, d) in [-1, 1]
    n = len(x)
    zero = torch.zeros((), dtype=c.dtype, device=c.device)
    noise0 = torch.randn(unit.shape, generator=generator).to(c)
    recon = _recon(x, levels, schedule.logsnr(zero), noise0)
    prior = prior_kl(unit, schedule.logsnr(zero + 1.0))
    total = torch.zeros(n, dtype=c.dtype, device=c.device)
    t_all = stratified_times(n * samples, generator).view(samples, n)
    for k in range(samples):
        noise = torch.randn(unit.shape, generator=generator).to(c)
        t = t_all[k].to(c)
        if steps is None:
            total += diffusion_loss(model, unit, schedule, t, noise)
        else:
            i = (t * steps).long().clamp(max=steps - 1) + 1
            total += discrete_diffusion_loss(model, unit, schedule, steps, i, noise)
    diffusion = total / samples
    return {
        "reconstruction": recon,
        "prior": prior,
        "diffusion": diffusion,
        "total": recon + prior + diffusion,
    }
