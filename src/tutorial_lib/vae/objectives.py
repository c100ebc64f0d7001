r"""The VAE's objectives: the ELBO, its closed-form KL term, importance-weighted bounds.

The evidence lower bound :math:`\mathcal L(x) = \mathbb E_{q}[\log p_\theta(x\mid z)] -
\mathrm{KL}(q_\phi(z\mid x)\,\|\,p(z)) \le \log p_\theta(x)` (Kingma & Welling 2014,
arXiv:1312.6114) and the importance-weighted bound :math:`\hat{\mathcal L}_k` (Burda et
al. 2016, arXiv:1509.00519), which tends to :math:`\log p_\theta(x)` as :math:`k` grows.

The functions take any model with the methods ``posterior(x)``, ``likelihood(z)`` and
``prior()`` that return ``torch.distributions`` objects (a :class:`~.model.VAE`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import Normal, kl_divergence

from .model import VAE

__all__ = [
    "ElboTerms",
    "elbo",
    "kl_standard_normal",
    "kl_per_dimension",
    "iwae_bound",
    "iwae_log_likelihood",
]


def _check_int(value: object, name: str, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def _check_model(model: object) -> None:
    if not all(hasattr(model, m) for m in ("posterior", "likelihood", "prior")):
        raise ValueError(
            "model must have posterior, likelihood and prior methods (a VAE), "
            f"got {type(model).__name__}"
        )


def _check_x(x: object) -> Tensor:
    if not isinstance(x, Tensor) or x.ndim != 2 or len(x) < 1:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"x must be a (B, D) tensor with B >= 1, got {shape}")
    return x


@dataclass(frozen=True)
class ElboTerms:
    """Per-example parts of the ELBO (shape ``(B,)`` each): ``elbo = reconstruction -
    beta * kl``."""

    elbo: Tensor
    reconstruction: Tensor
    kl: Tensor

    def __post_init__(self) -> None:
        shape = self.elbo.shape
        if self.reconstruction.shape != shape or self.kl.shape != shape:
            raise ValueError(
                "elbo, reconstruction and kl must have the same shape, got "
                f"{tuple(shape)}, {tuple(self.reconstruction.shape)}, "
                f"{tuple(self.kl.shape)}"
            )


def kl_standard_normal(mu: Tensor, log_var: Tensor) -> Tensor:
    r"""Closed form
    :math:`\mathrm{KL}(\mathcal N(\mu, \mathrm{diag}\,\sigma^2)\,\|\,\mathcal N(0, I))
    = \tfrac12 \sum_j (\mu_j^2 + \sigma_j^2 - \log \sigma_j^2 - 1)` (Kingma & Welling
    2014, appendix B), summed over the last dimension."""
    if not isinstance(mu, Tensor) or mu.ndim < 1:
        raise ValueError(f"mu must be a tensor with at least one dimension, got {mu!r}")
    if not isinstance(log_var, Tensor) or log_var.shape != mu.shape:
        shape = tuple(log_var.shape) if isinstance(log_var, Tensor) else log_var
        raise ValueError(f"log_var must have mu's shape {tuple(mu.shape)}, got {shape}")
    return 0.5 * (mu.pow(2) + log_var.exp() - log_var - 1.0).sum(-1)


def elbo(model: VAE, x: Tensor, beta: float = 1.0, n_samples: int = 1) -> ElboTerms:
    r"""Reparameterised Monte Carlo estimate of the (β-weighted) ELBO per example,

    :math:`\frac1S \sum_s \log p_\theta(x\mid \mu + \sigma\odot\varepsilon_s)
    - \beta\,\mathrm{KL}(q_\phi(z\mid x)\,\|\,p(z))`, with the KL in closed form through
    ``torch.distributions.kl_divergence``, or, for a prior without one (a flow prior,
    :mod:`.flow_prior`), estimated at the same draws as
    :math:`\frac1S \sum_s [\log q_\phi(z_s\mid x) - \log p(z_s)]`, which is unbiased.
    ``beta = 1`` gives the true ELBO; β-VAE
    (Higgins et al. 2017) uses other values. Returns :class:`ElboTerms` of shape
    ``(B,)``; the ``S`` draws of :math:`\varepsilon` come from the global torch state.
    """
    _check_model(model)
    _check_x(x)
    _check_int(n_samples, "n_samples")
    if not (isinstance(beta, (int, float)) and math.isfinite(beta) and beta >= 0):
        raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
    q = model.posterior(x)
    z = q.rsample((n_samples,))  # (S, B, latent), differentiable in the encoder
    rec = model.likelihood(z).log_prob(x).mean(0)  # (B,)
    prior = model.prior()
    try:
        kl = kl_divergence(q, prior.expand(q.batch_shape))  # (B,), closed form
    except NotImplementedError:  # no closed form (a flow prior): Monte Carlo, same z
        kl = (q.log_prob(z) - prior.log_prob(z)).mean(0)  # (B,)
    return ElboTerms(rec - beta * kl, rec, kl)


def kl_per_dimension(model: VAE, x: Tensor) -> Tensor:
    r"""Average over the data of :math:`\mathrm{KL}(q(z_j\mid x)\,\|\,\mathcal N(0,1))`
    for each latent dimension ``j`` (shape ``(latent,)``); a collapsed dimension has KL
    near 0."""
    _check_model(model)
    _check_x(x)
    with torch.no_grad():
        q = model.posterior(x).base_dist  # batch shape (B, latent)
        prior = Normal(torch.zeros_like(q.loc), torch.ones_like(q.scale))
        return kl_divergence(q, prior).mean(0)


def _log_weights(model: VAE, x: Tensor, q, z: Tensor) -> Tensor:
    """:math:`\\log p(x\\mid z) + \\log p(z) - \\log q(z\\mid x)`, shape ``(S, B)``."""
    return model.likelihood(z).log_prob(x) + model.prior().log_prob(z) - q.log_prob(z)


def iwae_bound(model: VAE, x: Tensor, k: int) -> Tensor:
    r"""The importance-weighted bound :math:`\hat{\mathcal L}_k(x)` of
    :func:`iwae_log_likelihood` with reparameterised samples, differentiable, so that it
    can also be maximised as a training objective (Burda et al. 2016). Shape ``(B,)``.
    With ``k = 1`` it is the one-sample ELBO of the same draw."""
    _check_model(model)
    _check_x(x)
    _check_int(k, "k")
    q = model.posterior(x)
    z = q.rsample((k,))  # (k, B, latent)
    return torch.logsumexp(_log_weights(model, x, q, z), 0) - math.log(k)


@torch.no_grad()
def iwae_log_likelihood(
    model: VAE, x: Tensor, k: int, batch_size: int = 64, chunk: int = 250
) -> Tensor:
    r"""Importance-weighted estimate of :math:`\log p_\theta(x)` per example (Burda et
    al. 2016, arXiv:1509.00519):

    .. math::
        \hat{\mathcal L}_k(x) = \log \frac1k \sum_{i=1}^k
        \frac{p_\theta(x\mid z_i)\, p(z_i)}{q_\phi(z_i\mid x)},
        \qquad z_i \sim q_\phi(z\mid x).

    Its expectation is a lower bound that increases with ``k`` and tends to
    :math:`\log p_\theta(x)`; ``k = 1`` is the ELBO. Uses the global torch random state.
    Computed in chunks of ``chunk`` samples for ``batch_size`` examples at a time.
    """
    _check_model(model)
    _check_x(x)
    _check_int(k, "k")
    _check_int(batch_size, "batch_size")
    _check_int(chunk, "chunk")
    out = []
    for xb in x.split(batch_size):
        q = model.posterior(xb)
        parts = []
        for start in range(0, k, chunk):
            z = q.sample((min(chunk, k - start),))  # (S, B, latent)
            parts.append(_log_weights(model, xb, q, z))  # (S, B)
        log_w = torch.cat(parts)  # (k, B)
        out.append(torch.logsumexp(log_w, 0) - math.log(k))
    return torch.cat(out)  # (N,)
