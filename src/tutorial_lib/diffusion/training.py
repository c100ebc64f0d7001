r"""Training a denoiser: :func:`~tutorial_lib.train.fit` on the continuous-time
diffusion term of the bound (:func:`~tutorial_lib.diffusion.diffusion_loss`), with
stratified times and the noise drawn from a generator the loss owns."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..train import History, TrainConfig, fit
from .objectives import diffusion_loss, stratified_times
from .schedule import LogSNRSchedule

__all__ = ["train_denoiser"]


def train_denoiser(
    model: nn.Module,
    data: Tensor | Callable[[int, torch.Generator], Tensor],
    schedule: LogSNRSchedule,
    config: TrainConfig,
    *,
    val_fn: Callable[[nn.Module], float] | None = None,
    device: torch.device | str | None = None,
) -> History:
    """Minimise the mean diffusion term over minibatches of ``data`` (rows in the
    model's scale, or a sampler ``(n, generator) -> Tensor``); times and noise come
    from a generator seeded with ``config.seed + 1``. Returns the history; the
    model ends in eval mode (with the best validation parameters when ``val_fn``)."""
    if not isinstance(schedule, LogSNRSchedule):
        raise ValueError(f"schedule must be a LogSNRSchedule, got {schedule!r}")
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {config!r}")
    generator = torch.Generator().manual_seed(config.seed + 1)

    def loss_fn(m: nn.Module, x: Tensor) -> Tensor:
        t = stratified_times(len(x), generator).to(x)
        noise = torch.randn(x.shape, generator=generator).to(x)
        return diffusion_loss(m, x, schedule, t, noise).mean()

    return fit(model, loss_fn, data, config, val_fn=val_fn, device=device)
