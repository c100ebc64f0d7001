r"""Linear-Gaussian data: the one latent-variable model whose likelihood and posterior are exact.

The model :math:`z \sim \mathcal N(0, I_q)`, :math:`x \mid z \sim \mathcal N(Wz + b, \sigma^2 I_D)`
has the marginal :math:`p(x) = \mathcal N(b, C)` with :math:`C = WW^\top + \sigma^2 I` and the
posterior :math:`p(z\mid x) = \mathcal N(M^{-1}W^\top(x-b), \sigma^2 M^{-1})`,
:math:`M = W^\top W + \sigma^2 I_q` (Tipping & Bishop 1999, doi:10.1111/1467-9868.00196).
:class:`LinearGaussian` implements these formulas; :func:`make_linear_gaussian_data` draws a
data set from a random such model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence

__all__ = ["LinearGaussian", "LinearDataConfig", "make_linear_gaussian_data"]


@dataclass(frozen=True)
class LinearGaussian:
    r"""The model :math:`p(z) = \mathcal N(0, I)`, :math:`p(x\mid z) = \mathcal N(Wz + b, \sigma^2 I)`
    with ``W`` of shape ``(D, q)``, ``b`` of shape ``(D,)`` and the scalar ``sigma2``."""

    W: Tensor
    b: Tensor
    sigma2: Tensor

    def __post_init__(self) -> None:
        if self.W.ndim != 2 or self.b.shape != self.W.shape[:1]:
            raise ValueError(f"W must be (D, q) and b (D,), got {tuple(self.W.shape)} and {tuple(self.b.shape)}")
        if not bool(torch.as_tensor(self.sigma2) > 0):
            raise ValueError(f"sigma2 must be > 0, got {self.sigma2}")

    @property
    def dims(self) -> tuple[int, int]:
        """``(D, q)``: data and latent dimensions."""
        return self.W.shape[0], self.W.shape[1]

    def marginal(self) -> MultivariateNormal:
        r""":math:`p(x) = \mathcal N(b, WW^\top + \sigma^2 I)`."""
        D = self.W.shape[0]
        cov = self.W @ self.W.T + self.sigma2 * torch.eye(D, dtype=self.W.dtype, device=self.W.device)
        return MultivariateNormal(self.b, covariance_matrix=cov)

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact :math:`\\log p(x)` per row of ``x`` (shape ``(N,)``)."""
        return self.marginal().log_prob(x)

    def posterior(self, x: Tensor) -> MultivariateNormal:
        r"""Exact posterior :math:`p(z\mid x)` for each row of ``x`` (batch shape ``(N,)``)."""
        q = self.W.shape[1]
        M = self.W.T @ self.W + self.sigma2 * torch.eye(q, dtype=self.W.dtype, device=self.W.device)  # (q, q)
        mean = torch.linalg.solve(M, self.W.T @ (x - self.b).T).T  # (N, q)
        return MultivariateNormal(mean, covariance_matrix=(self.sigma2 * torch.linalg.inv(M)).expand(len(x), q, q))

    def log_joint(self, x: Tensor, z: Tensor) -> Tensor:
        r""":math:`\log p(x\mid z) + \log p(z)`; ``z`` has shape ``(..., N, q)``, ``x`` ``(N, D)``."""
        lik = Independent(Normal(z @ self.W.T + self.b, self.sigma2.sqrt()), 1)
        prior = Independent(Normal(torch.zeros_like(z), torch.ones_like(z)), 1)
        return lik.log_prob(x) + prior.log_prob(z)

    def elbo(self, x: Tensor, q: MultivariateNormal) -> Tensor:
        r"""Exact ELBO of the Gaussian :math:`q(z\mid x) = \mathcal N(m, S)` (one per row):
        :math:`-\frac D2\log(2\pi\sigma^2) - \frac{\|x - Wm - b\|^2 + \mathrm{tr}(WSW^\top)}{2\sigma^2}
        - \mathrm{KL}(q\,\|\,\mathcal N(0, I))`."""
        D, k = self.dims
        resid = x - q.mean @ self.W.T - self.b  # (N, D)
        trace = torch.einsum("dk,nkl,dl->n", self.W, q.covariance_matrix, self.W)  # (N,)
        rec = -0.5 * D * torch.log(2 * math.pi * self.sigma2) - 0.5 * (resid.pow(2).sum(-1) + trace) / self.sigma2
        zero = torch.zeros(k, dtype=x.dtype, device=x.device)
        prior = MultivariateNormal(zero, covariance_matrix=torch.eye(k, dtype=x.dtype, device=x.device))
        return rec - kl_divergence(q, prior)


@dataclass(frozen=True)
class LinearDataConfig:
    """A synthetic pPCA data set: ``n`` points in ``data_dim`` dimensions from a true linear-Gaussian
    model with ``latent_dim`` latents and noise standard deviation ``noise``."""

    n: int = 500
    data_dim: int = 5
    latent_dim: int = 2
    noise: float = 0.3
    seed: int = 0


def make_linear_gaussian_data(config: LinearDataConfig) -> tuple[Tensor, LinearGaussian]:
    """Sample the data set (float64, shape ``(n, data_dim)``) and return it with the true model."""
    g = torch.Generator().manual_seed(config.seed)
    D, q = config.data_dim, config.latent_dim
    W = torch.randn(D, q, generator=g, dtype=torch.float64) * torch.linspace(2.0, 1.0, q, dtype=torch.float64)
    b = torch.randn(D, generator=g, dtype=torch.float64)
    true = LinearGaussian(W, b, torch.tensor(config.noise**2, dtype=torch.float64))
    z = torch.randn(config.n, q, generator=g, dtype=torch.float64)
    x = z @ W.T + b + config.noise * torch.randn(config.n, D, generator=g, dtype=torch.float64)
    return x, true
