r"""Training a velocity field by conditional flow matching with the book's one loop
(:func:`tutorial_lib.train.fit`): minibatches of data, :func:`~.model.cfm_loss` with
fresh times (uniform or logit-normal) and noise from the global generator, Adam."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor, nn

from ..train import History, TrainConfig, fit
from .model import _check_times, cfm_loss
from .paths import GaussianPath

__all__ = ["train_velocity"]


def train_velocity(
    model: nn.Module,
    path: GaussianPath,
    data: Tensor | Callable[[int, torch.Generator], Tensor],
    config: TrainConfig,
    *,
    times: tuple[float, float] | None = None,
    val_fn: Callable[[nn.Module], float] | None = None,
    device: torch.device | str | None = None,
) -> History:
    """Minimise :func:`~.model.cfm_loss` of ``model`` on ``path`` with ``fit`` and
    ``config``; ``data`` is a tensor of rows or a sampler ``(n, generator) -> (n, d)``
    (as for ``fit``); ``times`` is the distribution of the training times
    (:func:`~.model.sample_times`)."""
    if not isinstance(path, GaussianPath):
        raise ValueError(f"path must be a GaussianPath, got {type(path).__name__}")
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    _check_times(times)
    loss = partial(cfm_loss, path=path, times=times)
    return fit(model, loss, data, config, val_fn=val_fn, device=device)
