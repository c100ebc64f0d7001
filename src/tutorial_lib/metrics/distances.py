r"""Sample-based distances between distributions: MMD and the Fréchet distance."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["mmd2_unbiased", "frechet_distance", "frechet_distance_features"]


def _evenly(x: Tensor, n: int) -> Tensor:
    """At most ``n`` evenly spaced rows of ``x`` (deterministic)."""
    if x.shape[0] <= n:
        return x
    return x[torch.linspace(0, x.shape[0] - 1, n).long()]


def mmd2_unbiased(x: Tensor, y: Tensor, bandwidth: float | None = None) -> float:
    r"""Unbiased estimate of the squared maximum mean discrepancy (Gretton et al. 2012)
    with the Gaussian kernel :math:`k(a,b) = \exp(-\|a-b\|^2 / 2h^2)`.

    ``bandwidth`` :math:`h` defaults to the median pairwise distance of the pooled samples
    (of at most ``1000`` evenly spaced rows of each, so that both samples count).
    """
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must be (N, D) and (M, D), got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise ValueError("x and y need at least two rows each")
    x, y = x.double(), y.double()
    if bandwidth is None:
        z = torch.cat([_evenly(x, 1000), _evenly(y, 1000)])
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
    (Heusel et al. 2017, arXiv:1706.08500), the *squared* 2-Wasserstein distance between them:
    :math:`\|\mu_1-\mu_2\|^2 + \operatorname{tr}(\Sigma_1 + \Sigma_2 - 2(\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2})^{1/2})`."""
    m1, m2 = (np.asarray(torch.as_tensor(v).double().cpu()) for v in (mu1, mu2))
    c1, c2 = (np.asarray(torch.as_tensor(v).double().cpu()) for v in (cov1, cov2))
    if m1.shape != m2.shape or c1.shape != c2.shape or c1.shape != (m1.size, m1.size):
        raise ValueError(
            f"mu1, mu2 must be (d,) and cov1, cov2 (d, d), got mu1 {m1.shape}, mu2 {m2.shape}, "
            f"cov1 {c1.shape}, cov2 {c2.shape}"
        )
    s1 = _sqrtm_psd(c1)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(s1 @ c2 @ s1), 0, None)).sum()
    return float(((m1 - m2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * cross)


def frechet_distance_features(f1: Tensor, f2: Tensor) -> float:
    """Fréchet distance between Gaussians fitted (mean, unbiased covariance) to two feature sets ``(N, d)``."""
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1] or min(f1.shape[0], f2.shape[0]) < 2:
        raise ValueError(
            f"f1 and f2 must be (N, d) with N >= 2 and equal d, got {tuple(f1.shape)}, {tuple(f2.shape)}"
        )
    a, b = f1.detach().double().cpu(), f2.detach().double().cpu()
    cov_a = torch.cov(a.T).reshape(a.shape[1], -1)  # (d, d), also for d = 1
    cov_b = torch.cov(b.T).reshape(b.shape[1], -1)
    return frechet_distance(a.mean(0), cov_a, b.mean(0), cov_b)
