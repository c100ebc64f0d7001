r"""Linear VAEs and probabilistic PCA: the one VAE whose optimum is known in closed form.

The maximum-likelihood fit of the linear-Gaussian model
(:class:`~tutorial_lib.data.LinearGaussian`) is probabilistic PCA, in closed form (Tipping &
Bishop 1999, doi:10.1111/1467-9868.00196). A linear VAE (linear encoder with a diagonal Gaussian
posterior, linear decoder) reaches the same optimum (Lucas et al. 2019, arXiv:1911.02469),
which :class:`LinearVAE` lets the reader check.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.distributions import MultivariateNormal

from ..data.linear_gaussian import LinearGaussian

__all__ = ["ppca_fit", "ppca_max_log_likelihood", "LinearVAE"]


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
