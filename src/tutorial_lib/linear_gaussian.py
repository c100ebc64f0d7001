r"""Linear-Gaussian latent-variable models: the one VAE whose likelihood and posterior are exact.

The model :math:`z \sim \mathcal N(0, I_q)`, :math:`x \mid z \sim \mathcal N(Wz + b, \sigma^2 I_D)`
has the marginal :math:`p(x) = \mathcal N(b, C)` with :math:`C = WW^\top + \sigma^2 I` and the
posterior :math:`p(z\mid x) = \mathcal N(M^{-1}W^\top(x-b), \sigma^2 M^{-1})`,
:math:`M = W^\top W + \sigma^2 I_q`. Its maximum-likelihood fit is probabilistic PCA, in
closed form (Tipping & Bishop 1999, doi:10.1111/1467-9868.00196). A linear VAE (linear encoder
with a diagonal Gaussian posterior, linear decoder) reaches the same optimum
(Lucas et al. 2019, arXiv:1911.02469), which :class:`LinearVAE` lets the reader check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.distributions import MultivariateNormal, Normal, Independent, kl_divergence

__all__ = [
    "LinearGaussian",
    "ppca_fit",
    "ppca_max_log_likelihood",
    "LinearVAE",
    "LinearDataConfig",
    "make_linear_gaussian_data",
    "LINEAR_DATA",
    "LINEAR_VAE_STEPS",
    "LINEAR_VAE_LR",
]


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


def ppca_fit(x: Tensor, latent_dim: int) -> LinearGaussian:
    r"""Closed-form maximum-likelihood probabilistic PCA (Tipping & Bishop 1999, eqs. 7-8):
    :math:`b = \bar x`, :math:`\sigma^2 = \frac1{D-q}\sum_{j>q}\lambda_j`,
    :math:`W = U_q(\Lambda_q - \sigma^2 I)^{1/2}`, from the eigen-decomposition of the sample
    covariance :math:`S = \frac1N\sum_n (x_n-\bar x)(x_n-\bar x)^\top` (eigenvalues decreasing)."""
    N, D = x.shape
    if not 1 <= latent_dim < D:
        raise ValueError(f"latent_dim must be in [1, {D - 1}] for {D}-dimensional data, got {latent_dim}")
    mean = x.mean(0)
    S = (x - mean).T @ (x - mean) / N  # (D, D)
    evals, evecs = torch.linalg.eigh(S)  # increasing order
    evals, evecs = evals.flip(0), evecs.flip(1)
    sigma2 = evals[latent_dim:].mean()
    W = evecs[:, :latent_dim] * (evals[:latent_dim] - sigma2).clamp(min=0).sqrt()  # (D, q)
    return LinearGaussian(W, mean, sigma2)


def ppca_max_log_likelihood(x: Tensor, latent_dim: int) -> float:
    r"""The maximum average log-likelihood of pPCA, in closed form (Tipping & Bishop 1999, eq. 4 at
    the optimum): :math:`-\frac12\big[D\log 2\pi + \sum_{j\le q}\log\lambda_j + (D-q)\log\sigma^2 + D\big]`
    nats per data point."""
    N, D = x.shape
    fit = ppca_fit(x, latent_dim)
    S = (x - fit.b).T @ (x - fit.b) / N
    evals = torch.linalg.eigvalsh(S).flip(0)
    total = D * math.log(2 * math.pi) + evals[:latent_dim].log().sum() + (D - latent_dim) * fit.sigma2.log() + D
    return float(-0.5 * total)


class LinearVAE(nn.Module):
    r"""A VAE with a linear decoder :math:`p(x\mid z) = \mathcal N(Wz + b, \sigma^2 I)` and a linear
    encoder :math:`q(z\mid x) = \mathcal N(V(x - b), \mathrm{diag}\,s^2)` whose variances ``s``
    do not depend on ``x`` (the exact posterior covariance does not either). Its ELBO is computed
    exactly, without sampling, by :meth:`LinearGaussian.elbo`."""

    def __init__(self, data_dim: int, latent_dim: int, dtype: torch.dtype = torch.float64):
        super().__init__()
        if not 1 <= latent_dim < data_dim:
            raise ValueError(f"latent_dim must be in [1, {data_dim - 1}], got {latent_dim}")
        self.W = nn.Parameter(0.1 * torch.randn(data_dim, latent_dim, dtype=dtype))
        self.b = nn.Parameter(torch.zeros(data_dim, dtype=dtype))
        self.log_sigma2 = nn.Parameter(torch.zeros((), dtype=dtype))
        self.V = nn.Parameter(0.1 * torch.randn(latent_dim, data_dim, dtype=dtype))
        self.log_s2 = nn.Parameter(torch.zeros(latent_dim, dtype=dtype))

    def model(self) -> LinearGaussian:
        """The generative model (decoder and prior) as a :class:`LinearGaussian`."""
        return LinearGaussian(self.W, self.b, self.log_sigma2.exp())

    def posterior(self, x: Tensor) -> MultivariateNormal:
        r"""The encoder :math:`q(z\mid x)`, as a full-covariance object with a diagonal matrix."""
        mean = (x - self.b) @ self.V.T  # (N, q)
        cov = torch.diag(self.log_s2.exp()).expand(len(x), -1, -1)  # (N, q, q)
        return MultivariateNormal(mean, covariance_matrix=cov)

    def elbo(self, x: Tensor) -> Tensor:
        """Exact ELBO per row of ``x`` (shape ``(N,)``)."""
        return self.model().elbo(x, self.posterior(x))


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


LINEAR_DATA = LinearDataConfig()
LINEAR_VAE_STEPS = 3000  # full-batch Adam steps of the linear-VAE chapter
LINEAR_VAE_LR = 0.02
