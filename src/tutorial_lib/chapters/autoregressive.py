r"""The autoregressive-models chapter: its configuration and the recipes that the
notebook, the ``autoregressive`` benchmark and the tests all call.

The digits model is trained by maximum likelihood (teacher forcing) on the 1,000
training images, keeping the parameters with the best exact NLL on the 350 validation
images, and the chapter reports the exact NLL on the 447 test images in nats per image.
With ``components > 1`` the model is a uniform mixture of that many copies trained
from different seeds (and, for MADE, different pixel orders): still an exact
likelihood, :math:`\log\frac1K\sum_k p_k(x)`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from ..autoregressive import (
    ARConfig,
    AutoregressiveModel,
    OrderMixture,
    all_configurations,
    build_ar,
    check_pixels,
    dependencies,
    exact_nll,
    nll_loss,
)
from ..train import History, TrainConfig, fit

__all__ = [
    "AutoregressiveConfig",
    "CONFIG",
    "build_model",
    "train_model",
    "train_digits_model",
    "evaluate",
    "sampling_seconds",
    "receptive_fields",
    "total_probability",
]


@dataclass(frozen=True)
class AutoregressiveConfig:
    """The chapter's one configuration.

    ``model``: the digits model (``components`` copies, seeds ``model_seed + k``,
    mixed uniformly); ``made``: the MADE it is compared with (raster order);
    ``plain`` and ``gated``: the small PixelCNNs of the blind-spot figure, on a
    ``field_shape`` image. ``train``: Adam on the training images with validation
    every ``train.val_every`` steps and the best parameters restored. Images have
    ``shape`` pixels with ``levels`` values; ``n_samples`` images are drawn with
    seed ``sample_seed``.
    """

    model: ARConfig = ARConfig("gated", width=32, depth=5)
    components: int = 1
    made: ARConfig = ARConfig("made", width=512, depth=2, dropout=0.3)
    plain: ARConfig = ARConfig("pixelcnn", width=16, depth=4, first_kernel=3)
    gated: ARConfig = ARConfig("gated", width=16, depth=4)
    field_shape: tuple[int, int] = (8, 8)
    train: TrainConfig = TrainConfig(
        steps=700,
        batch_size=50,
        lr=3e-3,
        cosine=True,
        val_every=50,
        progress=False,
        desc="gated PixelCNN",
    )
    made_train: TrainConfig = TrainConfig(
        steps=1000,
        batch_size=100,
        lr=1e-3,
        cosine=True,
        val_every=50,
        progress=False,
        desc="MADE",
    )
    shape: tuple[int, int] = (8, 8)
    levels: int = 17
    model_seed: int = 0
    n_samples: int = 36
    sample_seed: int = 1

    def __post_init__(self) -> None:
        for name in ("model", "made", "plain", "gated"):
            if not isinstance(getattr(self, name), ARConfig):
                raise ValueError(
                    f"{name} must be an ARConfig, got {getattr(self, name)!r}"
                )
        for name, kind in (("made", "made"), ("plain", "pixelcnn"), ("gated", "gated")):
            if getattr(self, name).kind != kind:
                raise ValueError(f"{name} must be an ARConfig of kind {kind!r}")
        for name in ("train", "made_train"):
            value = getattr(self, name)
            if not isinstance(value, TrainConfig) or value.val_every < 1:
                raise ValueError(
                    f"{name} must be a TrainConfig with val_every >= 1 (selection on "
                    f"validation), got {value!r}"
                )
        for name in ("shape", "field_shape"):
            value = getattr(self, name)
            if (
                not isinstance(value, tuple)
                or len(value) != 2
                or not all(isinstance(s, int) and s >= 2 for s in value)
            ):
                raise ValueError(
                    f"{name} must be a tuple (H, W) of ints >= 2, got {value!r}"
                )
        for name, low in (("components", 1), ("levels", 2), ("n_samples", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        for name in ("model_seed", "sample_seed"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(
                    f"{name} must be an int >= 0, got {getattr(self, name)!r}"
                )


#: The configuration of the chapter and of the ``autoregressive`` benchmark.
CONFIG = AutoregressiveConfig()


def _order(config: AutoregressiveConfig, arch: ARConfig, seed: int) -> Tensor | None:
    """Raster order for the first component and for PixelCNNs; a random order
    (generator seeded by ``seed``) for the other MADE components."""
    if arch.kind != "made" or seed == config.model_seed:
        return None
    dim = config.shape[0] * config.shape[1]
    return torch.randperm(dim, generator=torch.Generator().manual_seed(seed))


def build_model(
    config: AutoregressiveConfig, arch: ARConfig, seed: int
) -> AutoregressiveModel:
    """The model ``arch`` on ``config.shape`` images, initialised after
    ``torch.manual_seed(seed)`` (pixel order: :func:`_order`)."""
    if not isinstance(arch, ARConfig):
        raise ValueError(f"arch must be an ARConfig, got {type(arch).__name__}")
    torch.manual_seed(seed)
    return build_ar(arch, config.shape, config.levels, _order(config, arch, seed))


def train_model(
    config: AutoregressiveConfig,
    arch: ARConfig,
    train: Tensor,
    val: Tensor,
    *,
    train_config: TrainConfig | None = None,
    seed: int | None = None,
    device: torch.device | str | None = None,
) -> tuple[AutoregressiveModel, History]:
    """Train ``arch`` by maximum likelihood on the images ``train`` ``(N, H*W)``, with
    the exact NLL on ``val`` for model selection; return the model (eval mode) and its
    history. ``train_config`` defaults to ``config.train``, ``seed`` to
    ``config.model_seed``."""
    dim = config.shape[0] * config.shape[1]
    check_pixels(train, dim, config.levels, "train")
    check_pixels(val, dim, config.levels, "val")
    train_config = config.train if train_config is None else train_config
    seed = config.model_seed if seed is None else seed
    model = build_model(config, arch, seed)
    if device is not None:
        model = model.to(device)
    device = next(model.parameters()).device
    val = val.to(device)
    history = fit(
        model,
        nll_loss,
        train.to(device),
        replace(train_config, seed=seed),
        val_fn=lambda m: exact_nll(m, val)[0],
        device=device,
    )
    return model, history


def train_digits_model(
    config: AutoregressiveConfig,
    train: Tensor,
    val: Tensor,
    *,
    device: torch.device | str | None = None,
) -> tuple[AutoregressiveModel | OrderMixture, list[History]]:
    """The chapter's digits model: ``config.components`` copies of ``config.model``
    (seeds ``model_seed + k``) each trained by :func:`train_model`, mixed uniformly
    when there are several; returns the model and the histories."""
    parts, histories = [], []
    for k in range(config.components):
        model, history = train_model(
            config, config.model, train, val, seed=config.model_seed + k, device=device
        )
        parts.append(model)
        histories.append(history)
    model = parts[0] if len(parts) == 1 else OrderMixture(parts).eval()
    return model, histories


def evaluate(model: torch.nn.Module, x: Tensor) -> tuple[float, float]:
    """The exact NLL of ``model`` on the images ``x`` in nats per image, ``(mean,
    standard error over images)``."""
    return exact_nll(model, x)


def sampling_seconds(
    model: torch.nn.Module, n: int, generator: torch.Generator
) -> tuple[Tensor, float]:
    """``n`` images from ``model`` (sequential sampling) and the CPU seconds per image
    (``time.process_time``, this process)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    start = time.process_time()
    samples = model.sample(n, generator)
    return samples, (time.process_time() - start) / n


def receptive_fields(config: AutoregressiveConfig, pixel: tuple[int, int]) -> dict:
    """The receptive field of ``pixel`` ``(row, col)`` in the plain and the gated
    PixelCNN of the blind-spot figure (``config.plain``, ``config.gated`` on
    ``config.field_shape``, random initial weights): ``{"plain": (H, W) bool, "gated":
    (H, W) bool, "earlier": (H, W) bool}``, the last marking the pixels before
    ``pixel`` in raster order."""
    h, w = config.field_shape
    if (
        not isinstance(pixel, tuple)
        or len(pixel) != 2
        or not (0 <= pixel[0] < h and 0 <= pixel[1] < w)
    ):
        raise ValueError(
            f"pixel must be a (row, col) inside {config.field_shape}, got {pixel!r}"
        )
    index = pixel[0] * w + pixel[1]
    fields = {}
    for name in ("plain", "gated"):
        torch.manual_seed(config.model_seed)
        model = build_ar(getattr(config, name), config.field_shape, config.levels)
        fields[name] = dependencies(model)[index].reshape(h, w)
    fields["earlier"] = (torch.arange(h * w) < index).reshape(h, w)
    return fields


def total_probability(model: AutoregressiveModel) -> float:
    """:math:`\\sum_x p(x)` over every configuration of a small model (at most a
    million), in float64: 1 up to rounding for a normalised model."""
    if not isinstance(model, AutoregressiveModel):
        raise ValueError(
            f"model must be an AutoregressiveModel, got {type(model).__name__}"
        )
    x = all_configurations(model.dim, model.levels).to(model.order.device)
    with torch.no_grad():
        return model.log_prob(x).double().exp().sum().item()
