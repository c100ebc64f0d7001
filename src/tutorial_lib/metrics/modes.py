r"""Mode coverage of samples from a Gaussian mixture (PacGAN, Lin et al. 2018, arXiv:1712.04086)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["ModeStats", "assign_modes", "mode_metrics"]


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
