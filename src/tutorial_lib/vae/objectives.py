r"""The VAE's objectives: the ELBO, its closed-form KL term, and importance-weighted bounds.

The evidence lower bound :math:`\mathcal L(x) = \mathbb E_{q}[\log p_\theta(x\mid z)] -
\mathrm{KL}(q_\phi(z\mid x)\,\|\,p(z)) \le \log p_\theta(x)` (Kingma & Welling 2014,
arXiv:1312.6114) and the importance-weighted bound :math:`\hat{\mathcal L}_k` (Burda et al.
2016, arXiv:1509.00519), which tends to :math:`\log p_\theta(x)` as :math:`k` grows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import Normal, kl_divergence

from .model import VAE

__all__ = ["ElboTerms", "elbo", "kl_standard_normal", "kl_per_dimension", "iwae_bound", "iwae_log_likelihood"]


@dataclass(frozen=True)
class ElboTerms:
    """Per-example parts of the ELBO (shape ``(B,)`` each): ``elbo = reconstruction - kl``."""

    elbo: Tensor
    reconstruction: Tensor
    kl: Tensor


def kl_standard_normal(mu: Tensor, log_var: Tensor) -> Tensor:
    r"""Closed form :math:`\mathrm{KL}(\mathcal N(\mu, \mathrm{diag}\,\sigma^2)\,\|\,\mathcal N(0, I))
    = \tfrac12 \sum_j (\mu_j^2 + \sigma_j^2 - \log \sigma_j^2 - 1)` (Kingma & Welling 2014,
    appendix B), summed over the last dimension."""
    return 0.5 * (mu.pow(2) + log_var.exp() - log_var - 1.0).sum(-1)


def elbo(model: VAE, x: Tensor, beta: float = 1.0, n_samples: int = 1) -> ElboTerms:
    r"""Reparameterised Monte Carlo estimate of the (β-weighted) ELBO per example,

    :math:`\frac1S \sum_s \log p_\theta(x\mid \mu + \sigma\odot\varepsilon_s)
    - \beta\,\mathrm{KL}(q_\phi(z\mid x)\,\|\,p(z))`, with the KL in closed form through
    ``torch.distributions.kl_divergence``. ``beta = 1`` gives the true ELBO; β-VAE
    (Higgins et al. 2017) uses other values. Returns :class:`ElboTerms` of shape ``(B,)``.
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    q = model.posterior(x)
    z = q.rsample((n_samples,))  # (S, B, latent), differentiable in the encoder's parameters
    rec = model.likelihood(z).log_prob(x).mean(0)  # (B,)
    kl = kl_divergence(q, model.prior().expand(q.batch_shape))  # (B,), closed form
    return ElboTerms(rec - beta * kl, rec, kl)


def kl_per_dimension(model: VAE, x: Tensor) -> Tensor:
    r"""Average over the data of :math:`\mathrm{KL}(q(z_j\mid x)\,\|\,\mathcal N(0,1))` for each
    latent dimension ``j`` (shape ``(latent,)``); a collapsed dimension has KL near 0."""
    with torch.no_grad():
        q = model.posterior(x).base_dist  # batch shape (B, latent)
        return kl_divergence(q, Normal(torch.zeros_like(q.loc), torch.ones_like(q.scale))).mean(0)


def iwae_bound(model: VAE, x: Tensor, k: int) -> Tensor:
    r"""The importance-weighted bound :math:`\hat{\mathcal L}_k(x)` of
    :func:`iwae_log_likelihood` with reparameterised samples, differentiable, so that it can
    also be maximised as a training objective (Burda et al. 2016). Shape ``(B,)``."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    q = model.posterior(x)
    z = q.rsample((k,))  # (k, B, latent)
    log_w = model.likelihood(z).log_prob(x) + model.prior().log_prob(z) - q.log_prob(z)  # (k, B)
    return torch.logsumexp(log_w, 0) - math.log(k)


@torch.no_grad()
def iwae_log_likelihood(model: VAE, x: Tensor, k: int, batch_size: int = 64, chunk: int = 250) -> Tensor:
    r"""Importance-weighted estimate of :math:`\log p_\theta(x)` per example (Burda et al. 2016,
    arXiv:1509.00519):

    .. math::
        \hat{\mathcal L}_k(x) = \log \frac1k \sum_{i=1}^k
        \frac{p_\theta(x\mid z_i)\, p(z_i)}{q_\phi(z_i\mid x)}, \qquad z_i \sim q_\phi(z\mid x).

    Its expectation is a lower bound that increases with ``k`` and tends to
    :math:`\log p_\theta(x)`; ``k = 1`` is the ELBO. Uses the global torch random state.
    Computed in chunks of ``chunk`` samples for ``batch_size`` examples at a time.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if batch_size < 1 or chunk < 1:
        raise ValueError(f"batch_size and chunk must be >= 1, got {batch_size} and {chunk}")
    out = []
    prior = model.prior()
    for xb in x.split(batch_size):
        q = model.posterior(xb)
        parts = []
        for start in range(0, k, chunk):
            z = q.sample((min(chunk, k - start),))  # (S, B, latent)
            parts.append(model.likelihood(z).log_prob(xb) + prior.log_prob(z) - q.log_prob(z))  # (S, B)
        log_w = torch.cat(parts)  # (k, B)
        out.append(torch.logsumexp(log_w, 0) - math.log(k))
    return torch.cat(out)  # (N,)
