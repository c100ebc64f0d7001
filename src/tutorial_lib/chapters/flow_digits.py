r"""The digits-flow chapter: its configuration and the recipes that the notebook, the
``flow_digits`` benchmark and the tests all call.

A :class:`~tutorial_lib.flows.LogitTransform` followed by a flow models dequantised
pixels :math:`v = x + u`, :math:`u \sim U[0, 1)^{64}`; training minimises the
dequantisation bound :math:`\mathbb E_u[-\log q(x + u)]` on the 1,000 training images,
keeping the parameters with the best bound on the 350 validation images, and the
chapter reports the bound on the 447 test images in nats per image.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import torch
from torch import Tensor

from ..data import dequantized_sampler
from ..flows import Flow, FlowConfig, build_dequantized_flow, nll_loss
from ..metrics import discrete_nll
from ..train import History, TrainConfig, fit

__all__ = [
    "FlowDigitsConfig",
    "CONFIG",
    "build_digits_flow",
    "train_digits_flow",
    "evaluate",
]


@dataclass(frozen=True)
class FlowDigitsConfig:
    """The chapter's one configuration.

    ``spline`` is the chapter's model; ``realnvp`` and ``maf`` are the baselines of its
    comparison, built and trained the same way: a logit layer (``alpha``, ``levels``)
    then the flow, Adam with ``train`` on dequantised training images, the bound on the
    validation images (``val_samples`` noise draws, seed ``val_seed``) every
    ``train.val_every`` steps with the best parameters restored, and parameters
    initialised after ``torch.manual_seed(model_seed)``. The test bound averages
    ``test_samples`` noise draws (seed ``test_seed``).
    """

    spline: FlowConfig = FlowConfig(
        "spline",
        layers=6,
        hidden=64,
        depth=1,
        bins=8,
        bound=4.0,
        actnorm=True,
        permute=True,
    )
    realnvp: FlowConfig = FlowConfig(
        "realnvp", layers=6, hidden=64, depth=1, actnorm=True, permute=True
    )
    maf: FlowConfig = FlowConfig("maf", layers=6, hidden=64, depth=1, actnorm=True)
    train: TrainConfig = TrainConfig(
        steps=600,
        batch_size=100,
        lr=1e-3,
        weight_decay=1e-2,
        cosine=True,
        val_every=50,
        progress=False,
        desc="digits flow",
    )
    alpha: float = 0.01
    levels: int = 17
    model_seed: int = 0
    val_samples: int = 2
    val_seed: int = 5
    test_samples: int = 16
    test_seed: int = 7

    def __post_init__(self) -> None:
        for field in ("spline", "realnvp", "maf"):
            value = getattr(self, field)
            if not isinstance(value, FlowConfig) or value.kind != field:
                raise ValueError(
                    f"{field} must be a FlowConfig of kind {field!r}, got {value!r}"
                )
        if not isinstance(self.train, TrainConfig):
            raise ValueError(f"train must be a TrainConfig, got {self.train!r}")
        if self.train.val_every < 1:
            raise ValueError(
                "train.val_every must be >= 1 (selection on validation), "
                f"got {self.train.val_every}"
            )
        if not 0 < self.alpha < 0.5:
            raise ValueError(f"alpha must be in (0, 0.5), got {self.alpha}")
        if self.levels < 2:
            raise ValueError(f"levels must be >= 2, got {self.levels}")
        for field in ("val_samples", "test_samples"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be >= 1, got {getattr(self, field)}")
        for field in ("model_seed", "val_seed", "test_seed"):
            if getattr(self, field) < 0:
                raise ValueError(f"{field} must be >= 0, got {getattr(self, field)}")

    @property
    def models(self) -> MappingProxyType:
        """The three architectures by name, the chapter's model first (read-only)."""
        return MappingProxyType(
            {"spline": self.spline, "realnvp": self.realnvp, "maf": self.maf}
        )


#: The configuration of the chapter and of the ``flow_digits`` benchmark.
CONFIG = FlowDigitsConfig()


def _check_model(config: FlowDigitsConfig, model: str) -> FlowConfig:
    if model not in config.models:
        raise ValueError(f"model must be one of {tuple(config.models)}, got {model!r}")
    return config.models[model]


def build_digits_flow(
    config: FlowDigitsConfig, model: str = "spline", dim: int = 64
) -> Flow:
    """The logit layer followed by the flow ``model``: a density on ``v`` in
    ``(0, levels)^dim``."""
    return build_dequantized_flow(
        _check_model(config, model), dim, config.levels, config.alpha
    )


def evaluate(
    config: FlowDigitsConfig,
    flow: Flow,
    x: Tensor,
    samples: int | None = None,
    seed: int | None = None,
) -> tuple[float, float]:
    """The dequantisation bound on images ``x`` in nats per image, ``(mean, standard
    error)``, with ``config.test_samples`` draws and seed ``config.test_seed`` unless
    ``samples`` or ``seed`` is given."""
    samples = config.test_samples if samples is None else samples
    seed = config.test_seed if seed is None else seed
    return discrete_nll(flow, x, samples=samples, seed=seed)


def train_digits_flow(
    config: FlowDigitsConfig,
    train: Tensor,
    val: Tensor,
    model: str = "spline",
    *,
    device: torch.device | str | None = None,
) -> tuple[Flow, History]:
    """Train the flow ``model`` on the images ``train`` ``(N, 64)`` with model selection
    on ``val``; return the flow (in eval mode, on ``device``) and its history."""
    _check_model(config, model)
    if train.dim() != 2 or val.dim() != 2 or train.shape[1] != val.shape[1]:
        raise ValueError(
            "train and val must be (N, D) tensors with the same D, "
            f"got {tuple(train.shape)}"
            f" and {tuple(val.shape)}"
        )
    torch.manual_seed(config.model_seed)
    flow = build_digits_flow(config, model, train.shape[1])
    if device is not None:
        flow = flow.to(device)
    device = next(flow.parameters()).device
    val = val.to(device)
    history = fit(
        flow,
        nll_loss,
        dequantized_sampler(train.to(device)),
        config.train,
        val_fn=lambda m: discrete_nll(
            m, val, samples=config.val_samples, seed=config.val_seed
        )[0],
        device=device,
    )
    return flow, history
