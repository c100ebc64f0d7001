r"""Linear-Gaussian data: a latent-variable model with exact likelihood and posterior.

The model :math:`z \sim \mathcal N(0, I_q)`,
:math:`x \mid z \sim \mathcal N(Wz + b, \sigma^2 I_D)` has the marginal
:math:`p(x) = \mathcal N(b, C)` with :math:`C = WW^\top + \sigma^2 I` and the posterior
:math:`p(z\mid x) = \mathcal N(M^{-1}W^\top(x-b), \sigma^2 M^{-1})`,
:math:`M = W^\top W + \sigma^2 I_q` (Tipping & Bishop 1999,
doi:10.1111/1467-9868.00196). :class:`LinearGaussian` implements these formulas;
:func:`make_linear_gaussian_data` draws a data set from a random such model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence

__all__ = ["LinearGaussian", "LinearDataConfig", "make_linear_gaussian_data"]


def _shape(x: object) -> object:
    return tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__


@dataclass(frozen=True)
class LinearGaussian:
    r"""The model :math:`p(z) = \mathcal N(0, I)`,
    :math:`p(x\mid z) = \mathcal N(Wz + b, \sigma^2 I)` with ``W`` of shape ``(D, q)``,
    ``b`` of shape ``(D,)`` and the one-element tensor ``sigma2``."""

    W: Tensor
    b: Tensor
    sigma2: Tensor

    def __post_init__(self) -> None:
        if not isinstance(self.W, Tensor) or self.W.ndim != 2:
            raise ValueError(f"W must be a (D, q) tensor, got {_shape(self.W)}")
        if not isinstance(self.b, Tensor) or self.b.shape != self.W.shape[:1]:
            rows = self.W.shape[0]
            raise ValueError(
                f"b must be a ({rows},) tensor like W's rows, got {_shape(self.b)}"
            )
        if not isinstance(self.sigma2, Tensor) or self.sigma2.numel() != 1:
            raise ValueError(
                f"sigma2 must be a one-element tensor, got {self.sigma2!r}"
            )
        if not bool(self.sigma2 > 0):
            raise ValueError(f"sigma2 must be > 0, got {float(self.sigma2)}")

    @property
    def dims(self) -> tuple[int, int]:
        """``(D, q)``: data and latent dimensions."""
        return self.W.shape[0], self.W.shape[1]

    def _eye(self, n: int) -> Tensor:
        return torch.eye(n, dtype=self.W.dtype, device=self.W.device)

    def marginal(self) -> MultivariateNormal:
        r""":math:`p(x) = \mathcal N(b, WW^\top + \sigma^2 I)`."""
        cov = self.W @ self.W.T + self.sigma2 * self._eye(self.W.shape[0])  # (D, D)
        return MultivariateNormal(self.b, covariance_matrix=cov)

    def log_prob(self, x: Tensor) -> Tensor:
        r"""Exact :math:`\log p(x)` per row of ``x`` (shape ``(N,)``)."""
        return self.marginal().log_prob(x)

    def posterior(self, x: Tensor) -> MultivariateNormal:
        r"""Exact posterior :math:`p(z\mid x)` for each row of ``x`` (batch shape
        ``(N,)``)."""
        q = self.W.shape[1]
        M = self.W.T @ self.W + self.sigma2 * self._eye(q)  # (q, q)
        mean = torch.linalg.solve(M, self.W.T @ (x - self.b).T).T  # (N, q)
        cov = (self.sigma2 * torch.linalg.inv(M)).expand(len(x), q, q)  # (N, q, q)
        return MultivariateNormal(mean, covariance_matrix=cov)

    def log_joint(self, x: Tensor, z: Tensor) -> Tensor:
        r""":math:`\log p(x\mid z) + \log p(z)`; ``z`` has shape ``(..., N, q)``,
        ``x`` ``(N, D)``."""
        lik = Independent(Normal(z @ self.W.T + self.b, self.sigma2.sqrt()), 1)
        prior = Independent(Normal(torch.zeros_like(z), torch.ones_like(z)), 1)
        return lik.log_prob(x) + prior.log_prob(z)

    def elbo(self, x: Tensor, q: MultivariateNormal) -> Tensor:
        r"""Exact ELBO of a Gaussian :math:`q(z\mid x) = \mathcal N(m, S)`, one per row:
        :math:`-\frac D2\log(2\pi\sigma^2)
        - \frac{\|x - Wm - b\|^2 + \mathrm{tr}(WSW^\top)}{2\sigma^2}
        - \mathrm{KL}(q\,\|\,\mathcal N(0, I))`."""
        D, k = self.dims
        resid = x - q.mean @ self.W.T - self.b  # (N, D)
        trace = torch.einsum(
            "dk,nkl,dl->n", self.W, q.covariance_matrix, self.W
        )  # (N,)
        sq = resid.pow(2).sum(-1) + trace
        rec = -0.5 * D * torch.log(2 * math.pi * self.sigma2) - 0.5 * sq / self.sigma2
        kw = {"dtype": x.dtype, "device": x.device}
        prior = MultivariateNormal(
            torch.zeros(k, **kw), covariance_matrix=torch.eye(k, **kw)
        )
        return rec - kl_divergence(q, prior)


@dataclass(frozen=True)
class LinearDataConfig:
    """A synthetic pPCA data set: ``n`` points in ``data_dim`` dimensions from a true
    linear-Gaussian model with ``latent_dim`` latents and noise standard deviation
    ``noise``, drawn with the seed ``seed``."""

    n: int = 500
    data_dim: int = 5
    latent_dim: int = 2
    noise: float = 0.3
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n", "data_dim", "latent_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.latent_dim > self.data_dim:
            bound = self.data_dim
            raise ValueError(
                f"latent_dim must be <= data_dim = {bound}, got {self.latent_dim}"
            )
        noise = self.noise
        if not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise > 0):
            raise ValueError(f"noise must be a positive finite number, got {noise!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")


def make_linear_gaussian_data(
    config: LinearDataConfig,
) -> tuple[Tensor, LinearGaussian]:
    """Sample the data set (float64, shape ``(n, data_dim)``) and return it with the
    true model; model and data are drawn with a generator seeded by ``config.seed``."""
    if not isinstance(config, LinearDataConfig):
        raise ValueError(
            f"config must be a LinearDataConfig, got {type(config).__name__}"
        )
    g = torch.Generator().manual_seed(config.seed)
    D, q, f64 = config.data_dim, config.latent_dim, torch.float64
    W = torch.randn(D, q, generator=g, dtype=f64) * torch.linspace(
        2.0, 1.0, q, dtype=f64
    )
    b = torch.randn(D, generator=g, dtype=f64)
    true = LinearGaussian(W, b, torch.tensor(config.noise**2, dtype=f64))
    z = torch.randn(config.n, q, generator=g, dtype=f64)
    noise = config.noise * torch.randn(config.n, D, generator=g, dtype=f64)
    x = z @ W.T + b + noise  # (n, D)
    return x, true
