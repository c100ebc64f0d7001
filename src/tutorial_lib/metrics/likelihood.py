r"""Likelihood-based measures: average NLL, entropy, bits per dimension, the dequantisation bound."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..data.density import Density2D
from ..data.digits import dequantize

__all__ = ["average_nll", "entropy_mc", "bits_per_dim", "discrete_nll"]


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


@torch.no_grad()
def discrete_nll(flow: nn.Module, x: Tensor, samples: int = 8, seed: int = 0, batch_size: int = 1024) -> tuple[float, float]:
    r"""The dequantisation bound :math:`\mathbb E_u[-\log q(x+u)]` in nats per row,
    averaged over rows and ``samples`` noise draws; returns ``(mean, standard error)``
    (the standard error is over rows, of each row's average over draws)."""
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    flow.eval()
    gen = torch.Generator().manual_seed(seed)
    per_row = torch.zeros(x.shape[0], dtype=torch.float64)
    for _ in range(samples):
        v = dequantize(x, gen)
        lp = torch.cat([flow.log_prob(b) for b in v.split(batch_size)])
        per_row -= lp.double().cpu() / samples
    return per_row.mean().item(), (per_row.std() / math.sqrt(x.shape[0])).item()
