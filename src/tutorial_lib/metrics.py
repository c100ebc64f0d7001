r"""Metrics used across the book: likelihoods, entropies, mode coverage, MMD, Fréchet distance."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .data import Density2D

__all__ = [
    "average_nll",
    "entropy_mc",
    "bits_per_dim",
    "ModeStats",
    "assign_modes",
    "mode_metrics",
    "mmd2_unbiased",
    "frechet_distance",
    "frechet_distance_features",
]


@torch.no_grad()
def average_nll(log_prob_fn: Callable[[Tensor], Tensor], x: Tensor, batch_size: int = 4096) -> float:
    r"""Average negative log-likelihood :math:`-\frac1N\sum_i \log q(x_i)` (nats), in batches."""
    if x.shape[0] == 0:
        raise ValueError("x must hold at least one example")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    total = 0.0
    for xb in x.split(batch_size):
        total += float(log_prob_fn(xb).double().sum())
    return -total / x.shape[0]


def entropy_mc(density: Density2D, n: int = 200_000, seed: int = 0) -> tuple[float, float]:
    r"""Monte Carlo estimate of :math:`H(p) = -\mathbb E_p \log p(x)` and its standard error.

    Draws ``n`` samples with a generator seeded by ``seed`` and averages the exact
    ``-log_prob``; the standard error is the sample standard deviation over :math:`\sqrt n`.
    """
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    x = density.sample(n, generator=torch.Generator().manual_seed(seed)).double()
    lp = density.log_prob(x)
    return float(-lp.mean()), float(lp.std() / math.sqrt(n))


def bits_per_dim(nats_per_example: float, dim: int) -> float:
    r"""Convert nats per example to bits per dimension: :math:`\text{nats} / (D \ln 2)`."""
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    return nats_per_example / (dim * math.log(2))


@dataclass(frozen=True)
class ModeStats:
    """Mode coverage of samples from a Gaussian mixture (PacGAN, arXiv:1712.04086).

    ``modes``: number of modes with at least one high-quality sample nearest to it;
    ``high_quality``: fraction of samples within ``n_sigma`` standard deviations of
    their nearest mean; ``kl_uniform``: KL(histogram of high-quality samples over
    modes || uniform) in nats (NaN when there is no high-quality sample);
    ``counts``: that histogram.
    """

    modes: int
    high_quality: float
    kl_uniform: float
    counts: Tensor


def assign_modes(samples: Tensor, means: Tensor, std: float, n_sigma: float = 3.0) -> Tensor:
    """Index of each sample's nearest mean, or -1 where the sample is not high quality
    (farther than ``n_sigma * std`` from it); shape ``(N,)``, on the CPU."""
    if samples.ndim != 2 or means.ndim != 2 or samples.shape[1] != means.shape[1]:
        raise ValueError(
            f"samples (N, D) and means (K, D) must agree in D, got {tuple(samples.shape)} and {tuple(means.shape)}"
        )
    if not std > 0 or not n_sigma > 0:
        raise ValueError(f"std and n_sigma must be > 0, got {std} and {n_sigma}")
    s = samples.detach().to("cpu", torch.float64)
    m = means.detach().to("cpu", torch.float64)
    dmin, nearest = torch.cdist(s, m).min(1)  # (N,), (N,)
    return torch.where(dmin <= n_sigma * std, nearest, -1)


def mode_metrics(samples: Tensor, means: Tensor, std: float, n_sigma: float = 3.0) -> ModeStats:
    """Modes captured, fraction of high-quality samples and KL to uniform (see :class:`ModeStats`)."""
    label = assign_modes(samples, means, std, n_sigma)
    hq = label >= 0
    k = means.shape[0]
    counts = torch.bincount(label[hq], minlength=k)
    if counts.sum() == 0:
        kl = math.nan
    else:
        h = counts.double() / counts.sum()
        nz = h > 0
        kl = float((h[nz] * torch.log(h[nz] * k)).sum())
    return ModeStats(int((counts > 0).sum()), float(hq.double().mean()), kl, counts)


def mmd2_unbiased(x: Tensor, y: Tensor, bandwidth: float | None = None) -> float:
    r"""Unbiased estimate of the squared maximum mean discrepancy (Gretton et al. 2012)
    with the Gaussian kernel :math:`k(a,b) = \exp(-\|a-b\|^2 / 2h^2)`.

    ``bandwidth`` :math:`h` defaults to the median pairwise distance of the pooled samples.
    """
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must be (N, D) and (M, D), got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise ValueError("x and y need at least two rows each")
    x, y = x.double(), y.double()
    if bandwidth is None:
        z = torch.cat([x, y])[:2000]
        bandwidth = float(torch.cdist(z, z).median())
    if not bandwidth > 0:
        raise ValueError(f"bandwidth must be > 0, got {bandwidth}")

    def k(a: Tensor, b: Tensor) -> Tensor:
        return torch.exp(-torch.cdist(a, b) ** 2 / (2 * bandwidth**2))

    m, n = x.shape[0], y.shape[0]
    kxx = (k(x, x).sum() - m) / (m * (m - 1))
    kyy = (k(y, y).sum() - n) / (n * (n - 1))
    return float(kxx + kyy - 2 * k(x, y).mean())


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1: Tensor, cov1: Tensor, mu2: Tensor, cov2: Tensor) -> float:
    r"""Fréchet distance between :math:`\mathcal N(\mu_1,\Sigma_1)` and :math:`\mathcal N(\mu_2,\Sigma_2)`
    (Heusel et al. 2017, arXiv:1706.08500):
    :math:`\|\mu_1-\mu_2\|^2 + \operatorname{tr}(\Sigma_1 + \Sigma_2 - 2(\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2})^{1/2})`."""
    m1, m2 = (np.asarray(torch.as_tensor(v).double().cpu()) for v in (mu1, mu2))
    c1, c2 = (np.asarray(torch.as_tensor(v).double().cpu()) for v in (cov1, cov2))
    if m1.shape != m2.shape or c1.shape != c2.shape or c1.shape != (m1.size, m1.size):
        raise ValueError(f"shapes disagree: mu {m1.shape}, {m2.shape}; cov {c1.shape}, {c2.shape}")
    s1 = _sqrtm_psd(c1)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(s1 @ c2 @ s1), 0, None)).sum()
    return float(((m1 - m2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * cross)


def frechet_distance_features(f1: Tensor, f2: Tensor) -> float:
    """Fréchet distance between Gaussians fitted (mean, unbiased covariance) to two feature sets ``(N, d)``."""
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1] or min(f1.shape[0], f2.shape[0]) < 2:
        raise ValueError(f"features must be (N, d) with N >= 2 and equal d, got {tuple(f1.shape)}, {tuple(f2.shape)}")
    a, b = f1.detach().double().cpu(), f2.detach().double().cpu()
    return frechet_distance(a.mean(0), torch.cov(a.T).reshape(a.shape[1], -1), b.mean(0), torch.cov(b.T).reshape(b.shape[1], -1))
