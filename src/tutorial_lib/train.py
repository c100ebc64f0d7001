r"""One training loop for every chapter.

:func:`run_loop` is the engine: it calls a ``step`` function once per iteration,
records what it returns, shows a ``tqdm`` progress bar with the running losses (for
interactive readers; the book build sets ``TUTORIAL_BOOK_BUILD=1`` so that no frozen bar is
saved in the pages),
runs an optional validation callback, and stops with an error that names the step
as soon as a loss is NaN or infinite. :func:`fit` builds the usual single-loss,
single-optimizer case on top of it; adversarial training (two optimizers) passes its
own ``step`` to :func:`run_loop`.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .utils import in_book_build

__all__ = ["TrainConfig", "History", "NonFiniteLossError", "run_loop", "fit", "minibatches"]


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite during training."""


@dataclass(frozen=True)
class TrainConfig:
    """Settings of :func:`fit`.

    ``steps`` optimizer updates on minibatches of ``batch_size``; Adam with learning
    rate ``lr`` (cosine-annealed to ``lr * lr_final`` when ``cosine`` is true); optional
    gradient-norm clipping; validation every ``val_every`` steps (0: never), keeping the
    parameters with the best (lowest) validation value when ``restore_best`` is true.
    """

    steps: int
    batch_size: int
    lr: float = 1e-3
    weight_decay: float = 0.0
    cosine: bool = False
    lr_final: float = 0.0
    grad_clip: float | None = None
    val_every: int = 0
    restore_best: bool = True
    seed: int = 0
    progress: bool = True
    desc: str = "train"

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.val_every < 0:
            raise ValueError(f"val_every must be >= 0, got {self.val_every}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be None or > 0, got {self.grad_clip}")


@dataclass
class History:
    """What a training run recorded.

    ``values[name][i]`` is the value of ``name`` returned at step ``steps[i]``;
    ``val`` holds ``(step, value)`` pairs of the validation callback.
    """

    steps: list[int] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)
    val: list[tuple[int, float]] = field(default_factory=list)
    best_step: int | None = None
    seconds: float = 0.0

    @property
    def loss(self) -> list[float]:
        """The values recorded under ``"loss"``."""
        return self.values.get("loss", [])

    def record(self, step: int, values: Mapping[str, float]) -> None:
        self.steps.append(step)
        for name, value in values.items():
            self.values.setdefault(name, []).append(value)


def _as_float(value: float | Tensor) -> float:
    return float(value.detach().item()) if isinstance(value, Tensor) else float(value)


def run_loop(
    step: Callable[[int], Mapping[str, float | Tensor]],
    steps: int,
    *,
    val_fn: Callable[[], float] | None = None,
    val_every: int = 0,
    on_best: Callable[[int], None] | None = None,
    progress: bool = True,
    desc: str = "train",
) -> History:
    """Call ``step(i)`` for ``i = 0 .. steps-1`` and record its returned values.

    Every value must be finite: a NaN or infinite value raises
    :class:`NonFiniteLossError` naming the step and the value. If ``val_fn`` is given
    it is called every ``val_every`` steps and after the last one; ``on_best(step)``
    is called whenever the validation value improves (is lower than before).
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if val_every < 0:
        raise ValueError(f"val_every must be >= 0, got {val_every}")
    history = History()
    best = math.inf
    start = time.perf_counter()
    # no bars in the book build (TUTORIAL_BOOK_BUILD=1): a saved bar is a frozen widget
    show = progress and not in_book_build()
    bar = tqdm(range(steps), desc=desc, disable=not show, mininterval=0.5, leave=False)
    for i in bar:
        out = {name: _as_float(v) for name, v in step(i).items()}
        for name, value in out.items():
            if not math.isfinite(value):
                bar.close()
                raise NonFiniteLossError(f"{name} became {value} at step {i}; try a lower learning rate")
        history.record(i, out)
        if i % 10 == 0 or i == steps - 1:
            bar.set_postfix({k: f"{v:.4g}" for k, v in out.items()}, refresh=False)
        if val_fn is not None and ((val_every and (i + 1) % val_every == 0) or i == steps - 1):
            value = float(val_fn())
            history.val.append((i + 1, value))
            if value < best:
                best = value
                history.best_step = i + 1
                if on_best is not None:
                    on_best(i + 1)
    bar.close()
    history.seconds = time.perf_counter() - start
    return history


def minibatches(data: Tensor, batch_size: int, generator: torch.Generator):
    """Endless minibatches of the rows of ``data``, reshuffled every epoch."""
    n = data.shape[0]
    if n == 0:
        raise ValueError("data must have at least one row")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    batch_size = min(batch_size, n)
    while True:
        order = torch.randperm(n, generator=generator)
        for j in range(0, n - batch_size + 1, batch_size):
            yield data[order[j : j + batch_size].to(data.device)]


def fit(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, Tensor], Tensor],
    data: Tensor | Callable[[int, torch.Generator], Tensor],
    config: TrainConfig,
    *,
    val_fn: Callable[[nn.Module], float] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    device: torch.device | str | None = None,
) -> History:
    """Minimise ``loss_fn(model, batch)`` with Adam; return the :class:`History`.

    ``data`` is either a tensor whose rows are shuffled into minibatches, or a sampler
    ``data(batch_size, generator) -> Tensor`` (for densities we can sample endlessly).
    Batches are moved to ``device`` (default: the model's device). With ``val_fn`` and
    ``config.restore_best``, the parameters with the lowest validation value are
    restored at the end (model selection on validation data).
    """
    if device is None:
        p = next(model.parameters(), None)
        device = p.device if p is not None else torch.device("cpu")
    device = torch.device(device)
    model.to(device)
    generator = torch.Generator().manual_seed(config.seed)
    if isinstance(data, Tensor):
        batches = minibatches(data.to(device), config.batch_size, generator)
        next_batch = lambda: next(batches)  # noqa: E731
    elif callable(data):
        next_batch = lambda: data(config.batch_size, generator).to(device)  # noqa: E731
    else:
        raise ValueError(f"data must be a Tensor or a callable sampler, got {type(data).__name__}")
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = None
    if config.cosine:
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=config.steps, eta_min=config.lr * config.lr_final
        )
    params = [p for group in optimizer.param_groups for p in group["params"]]

    def step(i: int) -> dict[str, Tensor]:
        model.train()
        loss = loss_fn(model, next_batch())
        if not torch.isfinite(loss):
            raise NonFiniteLossError(f"loss became {loss.item()} at step {i}; try a lower learning rate")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        return {"loss": loss.detach()}

    best_state: dict[str, Tensor] | None = None

    def remember(_: int) -> None:
        nonlocal best_state
        best_state = copy.deepcopy(model.state_dict())

    def validate() -> float:
        model.eval()
        with torch.no_grad():
            return float(val_fn(model))

    history = run_loop(
        step,
        config.steps,
        val_fn=validate if val_fn is not None else None,
        val_every=config.val_every,
        on_best=remember if (val_fn is not None and config.restore_best) else None,
        progress=config.progress,
        desc=config.desc,
    )
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history
