r"""Flows on discrete data: uniform dequantisation and the digits flow.

A flow has a density on :math:`\mathbb R^D`, but pixels take values in
:math:`\{0, \dots, L-1\}`. Uniform dequantisation (Theis et al. 2016, arXiv:1511.01844)
trains the flow on :math:`v = x + u`, :math:`u \sim U[0,1)^D`. For any density
:math:`q` on :math:`\mathbb R^D`, the discrete model
:math:`P(x) = \int_{[0,1)^D} q(x + u)\,du` is a proper distribution and, by Jensen,

.. math::
    -\log P(x) \le \mathbb E_{u}\left[-\log q(x + u)\right] ,

so the dequantised test NLL is an upper bound on a discrete NLL (nats per image).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .flow_models import FlowConfig, build_flow
from .flows import Flow, Transform, check_dim
from .train import TrainConfig

__all__ = [
    "LogitTransform",
    "dequantize",
    "discrete_nll",
    "DigitsFlowConfig",
    "DIGITS_FLOW",
    "DIGITS_BASELINES",
    "build_digits_flow",
    "dequantized_sampler",
]


class LogitTransform(Transform):
    r"""Fixed preprocessing :math:`y = \mathrm{logit}(\alpha + (1 - 2\alpha) v / L)` from
    :math:`v \in (0, L)^D` to :math:`\mathbb R^D` (RealNVP's logit trick, Dinh et al.
    2017, arXiv:1605.08803), with

    .. math::
        \log\left|\det \frac{\partial y}{\partial v}\right| = \sum_i \left[\log\frac{1-2\alpha}{L}
        - \log p_i - \log(1 - p_i)\right], \quad p_i = \alpha + (1-2\alpha) v_i / L .
    """

    def __init__(self, dim: int, levels: int, alpha: float = 0.05):
        super().__init__()
        self.dim = check_dim(dim)
        if levels < 2:
            raise ValueError(f"levels must be >= 2, got {levels}")
        if not 0 < alpha < 0.5:
            raise ValueError(f"alpha must be in (0, 0.5), got {alpha}")
        self.levels, self.alpha = levels, alpha

    def forward(self, v: Tensor) -> tuple[Tensor, Tensor]:
        self._check(v)
        p = self.alpha + (1 - 2 * self.alpha) * v / self.levels
        y = torch.log(p) - torch.log1p(-p)
        logdet = (math.log((1 - 2 * self.alpha) / self.levels) - torch.log(p) - torch.log1p(-p)).sum(1)
        return y, logdet

    def inverse(self, y: Tensor) -> Tensor:
        self._check(y)
        return (torch.sigmoid(y) - self.alpha) / (1 - 2 * self.alpha) * self.levels


def dequantize(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """``x + u`` with ``u ~ U[0, 1)`` elementwise (``generator`` on the CPU)."""
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype)
    return x + u.to(x.device)


@torch.no_grad()
def discrete_nll(flow: Flow, x: Tensor, samples: int = 8, seed: int = 0, batch_size: int = 1024) -> tuple[float, float]:
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


@dataclass(frozen=True)
class DigitsFlowConfig:
    """The digits flow: a :class:`LogitTransform` (``alpha``) then the flow ``flow``,
    trained with ``train`` (validation every ``train.val_every`` steps, best restored)."""

    flow: FlowConfig
    train: TrainConfig
    alpha: float = 0.05
    levels: int = 17


def build_digits_flow(config: DigitsFlowConfig, dim: int = 64) -> Flow:
    """The logit preprocessing followed by the flow of ``config`` (density on ``v``)."""
    body = build_flow(config.flow, dim)
    return Flow([LogitTransform(dim, config.levels, config.alpha), *body.layers], dim)


def dequantized_sampler(x: Tensor):
    """A sampler ``(batch_size, generator) -> Tensor`` for :func:`~tutorial_lib.train.fit`:
    rows of ``x`` drawn with replacement, each with fresh uniform noise."""
    if x.dim() != 2 or x.shape[0] == 0:
        raise ValueError(f"x must be a non-empty (N, D) tensor, got shape {tuple(x.shape)}")

    def sample(n: int, generator: torch.Generator) -> Tensor:
        idx = torch.randint(0, x.shape[0], (n,), generator=generator)
        return dequantize(x[idx.to(x.device)], generator)

    return sample


_DIGITS_TRAIN = TrainConfig(
    steps=600, batch_size=100, lr=1e-3, weight_decay=1e-2, cosine=True, val_every=50, progress=False, desc="digits flow"
)

#: The configuration of the digits chapter and the ``flow_digits`` benchmark: six
#: spline couplings with ActNorm and fixed permutations, selected on validation.
DIGITS_FLOW = DigitsFlowConfig(
    flow=FlowConfig("spline", layers=6, hidden=64, depth=1, bins=8, bound=4.0, actnorm=True, permute=True),
    train=_DIGITS_TRAIN,
    alpha=0.01,
)

#: Baselines of the digits comparison table, trained the same way.
DIGITS_BASELINES: dict[str, DigitsFlowConfig] = {
    "realnvp": DigitsFlowConfig(FlowConfig("realnvp", layers=6, hidden=64, depth=1, actnorm=True, permute=True), _DIGITS_TRAIN, 0.01),
    "maf": DigitsFlowConfig(FlowConfig("maf", layers=6, hidden=64, depth=1, actnorm=True), _DIGITS_TRAIN, 0.01),
}
