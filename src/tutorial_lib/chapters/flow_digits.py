r"""The digits-flow chapter: the spline flow on dequantised digits and its baselines."""

from __future__ import annotations

from dataclasses import dataclass

from ..flows.base import Flow
from ..flows.build import FlowConfig
from ..flows.dequantization import build_dequantized_flow
from ..train import TrainConfig

__all__ = ["DigitsFlowConfig", "DIGITS_FLOW", "DIGITS_BASELINES", "build_digits_flow"]


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
    return build_dequantized_flow(config.flow, dim, config.levels, config.alpha)


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
