r"""Likelihood-based measures: average NLL, entropy, bits per dimension, the dequantisation bound."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..data.density import Density2D
from ..data.digits import dequantize

__all__ = [
    "average_nll",
    "entropy_mc",
    "bits_per_dim",
    "discrete_log_likelihood",
    "discrete_nll",
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


@torch.no_grad()
def discrete_log_likelihood(
    flow: object, x: Tensor, samples: int = 8, seed: int = 0, batch_size: int = 1024
) -> Tensor:
    r"""Per row of ``x``, the dequantisation bound's estimate of the discrete
    log-likelihood, :math:`\frac1S\sum_{s=1}^S \log q(x+u_s)` with ``samples``
    noise draws :math:`u_s` (generator seeded by ``seed``); float64, shape ``(N,)``.
    Its expectation is a lower bound on :math:`\log P(x)`. ``flow`` is anything with a
    ``log_prob`` of ``(B, D)`` points (a module is put in eval mode); the noise has
    ``x``'s dtype."""
    if not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be an int >= 1, got {samples!r}")
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[0] == 0:
        raise ValueError("x must be a non-empty (N, D) tensor")
    if not callable(getattr(flow, "log_prob", None)):
        raise ValueError(f"flow must have a log_prob method, got {type(flow).__name__}")
    if isinstance(flow, nn.Module):
        flow.eval()
    gen = torch.Generator().manual_seed(seed)
    per_row = torch.zeros(x.shape[0], dtype=torch.float64)
    for _ in range(samples):
        v = dequantize(x, gen)
        lp = torch.cat([flow.log_prob(b) for b in v.split(batch_size)])
        per_row += lp.double().cpu() / samples
    return per_row


def discrete_nll(flow: nn.Module, x: Tensor, samples: int = 8, seed: int = 0, batch_size: int = 1024) -> tuple[float, float]:
    r"""The dequantisation bound :math:`\mathbb E_u[-\log q(x+u)]` in nats per row,
    averaged over rows and ``samples`` noise draws; returns ``(mean, standard error)``
    (the standard error is over rows, of each row's average over draws)."""
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    per_row = -discrete_log_likelihood(flow, x, samples, seed, batch_size)
    return per_row.mean().item(), (per_row.std() / math.sqrt(x.shape[0])).item()
