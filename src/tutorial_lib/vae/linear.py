r"""Linear VAEs and probabilistic PCA: the one VAE whose optimum has a closed form.

The maximum-likelihood fit of the linear-Gaussian model
(:class:`~tutorial_lib.data.LinearGaussian`) is probabilistic PCA, in closed form
(Tipping & Bishop 1999, doi:10.1111/1467-9868.00196). A linear VAE (linear encoder with
a diagonal Gaussian posterior, linear decoder) reaches the same optimum (Lucas et al.
2019, arXiv:1911.02469), which :class:`LinearVAE` lets the reader check.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.distributions import MultivariateNormal

from ..data.linear_gaussian import LinearGaussian

__all__ = ["ppca_fit", "ppca_max_log_likelihood", "LinearVAE"]


def _check_data(x: object) -> Tensor:
    if not isinstance(x, Tensor) or x.ndim != 2 or len(x) < 2:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"x must be an (N, D) tensor with N >= 2, got {shape}")
    return x


def _check_latent(latent_dim: object, data_dim: int) -> int:
    ok = isinstance(latent_dim, int) and not isinstance(latent_dim, bool)
    if not ok or not 1 <= latent_dim < data_dim:
        raise ValueError(
            f"latent_dim must be an int in [1, {data_dim - 1}] for "
            f"{data_dim}-dimensional data, got {latent_dim!r}"
        )
    return latent_dim


def _sample_covariance(x: Tensor, mean: Tensor) -> Tensor:
    return (x - mean).T @ (x - mean) / len(x)  # (D, D)


def ppca_fit(x: Tensor, latent_dim: int) -> LinearGaussian:
    r"""Closed-form maximum-likelihood probabilistic PCA (Tipping & Bishop 1999, eqs.
    7-8): :math:`b = \bar x`, :math:`\sigma^2 = \frac1{D-q}\sum_{j>q}\lambda_j`,
    :math:`W = U_q(\Lambda_q - \sigma^2 I)^{1/2}`, from the eigen-decomposition of the
    sample covariance :math:`S = \frac1N\sum_n (x_n-\bar x)(x_n-\bar x)^\top`
    (eigenvalues decreasing)."""
    _check_data(x)
    _check_latent(latent_dim, x.shape[1])
    mean = x.mean(0)
    evals, evecs = torch.linalg.eigh(_sample_covariance(x, mean))  # increasing order
    evals, evecs = evals.flip(0), evecs.flip(1)
    sigma2 = evals[latent_dim:].mean()
    scale = (evals[:latent_dim] - sigma2).clamp(min=0).sqrt()
    W = evecs[:, :latent_dim] * scale  # (D, q)
    return LinearGaussian(W, mean, sigma2)


def ppca_max_log_likelihood(x: Tensor, latent_dim: int) -> float:
    r"""The maximum average log-likelihood of pPCA, in closed form (Tipping & Bishop
    1999, eq. 4 at the optimum):
    :math:`-\frac12\big[D\log 2\pi + \sum_{j\le q}\log\lambda_j + (D-q)\log\sigma^2
    + D\big]` nats per data point."""
    fit = ppca_fit(x, latent_dim)
    D = x.shape[1]
    evals = torch.linalg.eigvalsh(_sample_covariance(x, fit.b)).flip(0)
    total = (
        D * math.log(2 * math.pi)
        + evals[:latent_dim].log().sum()
        + (D - latent_dim) * fit.sigma2.log()
        + D
    )
    return float(-0.5 * total)


class LinearVAE(nn.Module):
    r"""A VAE with a linear decoder :math:`p(x\mid z) = \mathcal N(Wz + b, \sigma^2 I)`
    and a linear encoder :math:`q(z\mid x) = \mathcal N(V(x - b), \mathrm{diag}\,s^2)`
    whose variances ``s`` do not depend on ``x`` (the exact posterior covariance does
    not either). Its ELBO is computed exactly, without sampling, by
    :meth:`LinearGaussian.elbo`. Parameters are initialised from the global seed."""

    def __init__(
        self, data_dim: int, latent_dim: int, dtype: torch.dtype = torch.float64
    ):
        super().__init__()
        if not isinstance(data_dim, int) or isinstance(data_dim, bool) or data_dim < 2:
            raise ValueError(f"data_dim must be an int >= 2, got {data_dim!r}")
        _check_latent(latent_dim, data_dim)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        self.W = nn.Parameter(0.1 * torch.randn(data_dim, latent_dim, dtype=dtype))
        self.b = nn.Parameter(torch.zeros(data_dim, dtype=dtype))
        self.log_sigma2 = nn.Parameter(torch.zeros((), dtype=dtype))
        self.V = nn.Parameter(0.1 * torch.randn(latent_dim, data_dim, dtype=dtype))
        self.log_s2 = nn.Parameter(torch.zeros(latent_dim, dtype=dtype))

    def model(self) -> LinearGaussian:
        """The generative model (decoder and prior) as a :class:`LinearGaussian`."""
        return LinearGaussian(self.W, self.b, self.log_sigma2.exp())

    def posterior(self, x: Tensor) -> MultivariateNormal:
        r"""The encoder :math:`q(z\mid x)`, a full-covariance object with a diagonal
        matrix; batch shape ``(N,)``."""
        if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != self.W.shape[0]:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"x must be (N, {self.W.shape[0]}), got {shape}")
        mean = (x - self.b) @ self.V.T  # (N, q)
        cov = torch.diag(self.log_s2.exp()).expand(len(x), -1, -1)  # (N, q, q)
        return MultivariateNormal(mean, covariance_matrix=cov)

    def elbo(self, x: Tensor) -> Tensor:
        """Exact ELBO per row of ``x`` (shape ``(N,)``)."""
        return self.model().elbo(x, self.posterior(x))
