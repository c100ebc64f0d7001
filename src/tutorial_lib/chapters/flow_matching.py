r"""The flow-matching chapter: its configuration and the recipes that the notebook, the
``flow_matching`` benchmark and the tests all call.

A velocity field is trained by conditional flow matching on the cond-OT path (noise at
:math:`t = 0`, data at :math:`t = 1`); the ODE it defines is a continuous flow whose
exact log-density is computed with the instantaneous change of variables and the exact
trace. On the 2-D densities the score is the gap, test NLL minus the true entropy
(:mod:`tutorial_lib.chapters.flows_2d`'s test sets and :func:`~.flows_2d.gap`); on the
digits it is the dequantisation bound in nats per image, beside the Fréchet distance
of samples in the digit classifier's features, both against the number of velocity
evaluations (NFE).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import torch
from torch import Tensor

from ..data import check_density_names, dequantize, get_density
from ..data.digits import DigitsSplit, check_split
from ..flow_matching import (
    ContinuousFlow,
    FMConfig,
    build_path,
    train_velocity,
    velocity_field,
)
from ..flows import ODE_METHODS, LogitTransform
from ..metrics import discrete_nll
from ..metrics.digit_features import DigitClassifier
from ..train import History, TrainConfig
from . import flows_2d
from .gan_digits import frechet_to_test

__all__ = [
    "FlowMatchingConfig",
    "CONFIG",
    "make_test_set",
    "build_velocity",
    "long_run_config",
    "train_2d",
    "digits_preprocess",
    "train_digits",
    "evaluate_digits",
    "sample_digits",
    "solver_sweep",
]


def _check_solvers(name: str, value: object) -> None:
    if (
        not isinstance(value, tuple)
        or not value
        or not all(
            isinstance(s, tuple)
            and len(s) == 2
            and s[0] in ODE_METHODS
            and isinstance(s[1], int)
            and s[1] >= 1
            for s in value
        )
    ):
        raise ValueError(
            f"{name} must be a non-empty tuple of (method, steps) pairs with a method "
            f"of {ODE_METHODS} and steps >= 1, got {value!r}"
        )


@dataclass(frozen=True)
class FlowMatchingConfig:
    """The chapter's one configuration.

    2-D: ``model2d`` (network, path, solver) trained with ``train2d`` on fresh batches
    of each density in ``datasets``, parameters initialised after
    ``torch.manual_seed(model_seed)``; test sets of ``n_test`` points with seed
    ``test_seed + i`` (``i``: the position in ``datasets``); ``long_steps``,
    ``long_batch_size`` and ``long_model2d``: the budget, the batch size and the model
    of the benchmark's extra, longer run (one hidden layer deeper, with Fourier
    features of the position and a wider spread of training times).

    Digits: ``digits`` trained with ``digits_train`` on dequantised training images
    behind a logit layer (``alpha``, ``levels``); the test bound averages
    ``test_samples`` noise draws (seed ``test_seed``); ``solvers`` are the (method,
    steps) pairs of the NFE sweep, scored on the first ``sweep_images`` test images
    and on ``n_samples`` samples (noise seed ``sample_seed``).
    """

    datasets: tuple[str, ...] = ("8gaussians", "moons", "checkerboard", "2spirals")
    model2d: FMConfig = FMConfig(hidden=128, depth=3, steps=50, times=(1.0, 1.0))
    train2d: TrainConfig = TrainConfig(
        steps=2000,
        batch_size=512,
        lr=1e-2,
        cosine=True,
        progress=False,
        desc="flow matching 2-D",
    )
    long_steps: int = 9500
    long_batch_size: int = 1024
    long_model2d: FMConfig = FMConfig(
        hidden=128, depth=4, steps=50, times=(1.0, 1.5), space_freqs=5
    )
    n_test: int = 1_500
    test_seed: int = 300
    model_seed: int = 0
    digits: FMConfig = FMConfig(
        net="conv", hidden=16, depth=4, method="midpoint", steps=10, times=(0.5, 1.0)
    )
    digits_train: TrainConfig = TrainConfig(
        steps=5000,
        batch_size=100,
        lr=1e-3,
        cosine=True,
        progress=False,
        desc="flow matching digits",
    )
    alpha: float = 0.003
    levels: int = 17
    test_samples: int = 1
    digits_test_seed: int = 7
    solvers: tuple[tuple[str, int], ...] = (
        ("euler", 4),
        ("euler", 10),
        ("midpoint", 5),
        ("midpoint", 10),
        ("rk4", 10),
    )
    sweep_images: int = 100
    n_samples: int = 447
    sample_seed: int = 11

    def __post_init__(self) -> None:
        check_density_names(self.datasets)
        for name in ("model2d", "long_model2d", "digits"):
            if not isinstance(getattr(self, name), FMConfig):
                raise ValueError(
                    f"{name} must be an FMConfig, got {getattr(self, name)!r}"
                )
        for name in ("train2d", "digits_train"):
            if not isinstance(getattr(self, name), TrainConfig):
                raise ValueError(
                    f"{name} must be a TrainConfig, got {getattr(self, name)!r}"
                )
        for name, low in (
            ("long_steps", 1),
            ("long_batch_size", 1),
            ("n_test", 2),
            ("levels", 2),
            ("test_samples", 1),
            ("sweep_images", 2),
            ("n_samples", 2),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        for name in ("test_seed", "model_seed", "digits_test_seed", "sample_seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        if not 0 < self.alpha < 0.5:
            raise ValueError(f"alpha must be in (0, 0.5), got {self.alpha!r}")
        _check_solvers("solvers", self.solvers)


#: The configuration of the chapter and of the ``flow_matching`` benchmark.
CONFIG = FlowMatchingConfig()


def _check_dataset(config: FlowMatchingConfig, dataset: str) -> None:
    if dataset not in config.datasets:
        raise ValueError(f"dataset must be one of {config.datasets}, got {dataset!r}")


def make_test_set(config: FlowMatchingConfig, dataset: str) -> flows_2d.TestSet:
    """The test set of ``dataset``: ``config.n_test`` points, seed ``test_seed + i``,
    with their exact log-densities (built by the flows chapter's recipe)."""
    _check_dataset(config, dataset)
    spec = flows_2d.Flows2DConfig(
        datasets=config.datasets, n_test=config.n_test, test_seed=config.test_seed
    )
    return flows_2d.make_test_set(spec, dataset)


def build_velocity(config: FMConfig, dim: int, seed: int) -> torch.nn.Module:
    """The velocity network of ``config`` for ``dim`` features
    (:func:`~tutorial_lib.flow_matching.velocity_field`), initialised after
    ``torch.manual_seed(seed)``."""
    if not isinstance(config, FMConfig):
        raise ValueError(f"config must be an FMConfig, got {type(config).__name__}")
    torch.manual_seed(seed)
    return velocity_field(config, dim)


def long_run_config(config: FlowMatchingConfig) -> FlowMatchingConfig:
    """``config`` with the longer run's model (``long_model2d``) and batch size
    (``long_batch_size``) in place of the chapter's; train it with
    ``train_2d(..., steps=config.long_steps)``."""
    if not isinstance(config, FlowMatchingConfig):
        raise ValueError(
            f"config must be a FlowMatchingConfig, got {type(config).__name__}"
        )
    return dataclasses.replace(
        config,
        model2d=config.long_model2d,
        train2d=dataclasses.replace(config.train2d, batch_size=config.long_batch_size),
    )


def train_2d(
    config: FlowMatchingConfig,
    dataset: str,
    *,
    steps: int | None = None,
    device: torch.device | str | None = None,
) -> tuple[ContinuousFlow, History]:
    """Train ``config.model2d`` on ``dataset`` by flow matching with ``config.train2d``
    (``steps`` overrides its step count; the cosine schedule follows it). Returns the
    continuous flow (on the CPU, eval mode, the model's solver) and the history, whose
    ``seconds`` are wall seconds."""
    _check_dataset(config, dataset)
    if steps is not None and (not isinstance(steps, int) or steps < 1):
        raise ValueError(f"steps must be None or an int >= 1, got {steps!r}")
    train = config.train2d
    if steps is not None:
        train = dataclasses.replace(train, steps=steps)
    density = get_density(dataset)
    velocity = build_velocity(config.model2d, 2, config.model_seed)
    history = train_velocity(
        velocity,
        build_path(config.model2d),
        lambda n, g: density.sample(n, g).float(),
        train,
        times=config.model2d.times,
        device=device,
    )
    velocity = velocity.cpu().eval()
    flow = ContinuousFlow(velocity, 2, config.model2d.method, config.model2d.steps)
    return flow, history


def digits_preprocess(config: FlowMatchingConfig) -> LogitTransform:
    """The fixed logit layer between dequantised pixels in ``(0, levels)^64`` and the
    space of the ODE."""
    if not isinstance(config, FlowMatchingConfig):
        raise ValueError(
            f"config must be a FlowMatchingConfig, got {type(config).__name__}"
        )
    return LogitTransform(64, config.levels, config.alpha)



def train_digits(
    config: FlowMatchingConfig,
    split: DigitsSplit,
    *,
    device: torch.device | str | None = None,
) -> tuple[ContinuousFlow, History]:
    """Train ``config.digits`` by flow matching on logit-transformed dequantised
    training images; return the continuous flow (eval mode, with the logit layer in
    front and the model's solver) and the history."""
    check_split(split)
    preprocess = digits_preprocess(config)
    train = split.train

    def sampler(n: int, generator: torch.Generator) -> Tensor:
        idx = torch.randint(0, train.shape[0], (n,), generator=generator)
        y, _ = preprocess(dequantize(train[idx], generator))
        return y

    velocity = build_velocity(config.digits, train.shape[1], config.model_seed)
    history = train_velocity(
        velocity,
        build_path(config.digits),
        sampler,
        config.digits_train,
        times=config.digits.times,
        device=device,
    )
    flow = ContinuousFlow(
        velocity.eval(),
        train.shape[1],
        config.digits.method,
        config.digits.steps,
        preprocess.to(next(velocity.parameters()).device),
    )
    return flow, history


def evaluate_digits(
    config: FlowMatchingConfig,
    flow: ContinuousFlow,
    x: Tensor,
    samples: int | None = None,
) -> tuple[float, float]:
    """The dequantisation bound of ``flow`` on images ``x`` ``(N, 64)`` in nats per
    image, ``(mean, standard error)``, with ``samples`` (default
    ``config.test_samples``) noise draws of seed ``config.digits_test_seed``."""
    if not isinstance(flow, ContinuousFlow):
        raise ValueError(f"flow must be a ContinuousFlow, got {type(flow).__name__}")
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] != flow.dim:
        raise ValueError(f"x must be an (N, {flow.dim}) tensor of pixels")
    samples = config.test_samples if samples is None else samples
    device = next(flow.velocity.parameters()).device
    return discrete_nll(
        flow, x.to(device), samples=samples, seed=config.digits_test_seed
    )


def sample_digits(
    flow: ContinuousFlow, n: int, seed: int
) -> tuple[Tensor, float]:
    """``n`` images ``(n, 64)`` of pixel values in [0, 16] (the ODE's samples floored
    to their bin and clipped) and the CPU seconds per image of the ODE solve
    (``time.process_time``, this process)."""
    if not isinstance(flow, ContinuousFlow):
        raise ValueError(f"flow must be a ContinuousFlow, got {type(flow).__name__}")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    start = time.process_time()
    v = flow.sample(n, torch.Generator().manual_seed(seed))
    seconds = (time.process_time() - start) / n
    levels = flow.preprocess.levels if flow.preprocess is not None else 17
    return v.floor().clamp(0, levels - 1).cpu(), seconds


def solver_sweep(
    config: FlowMatchingConfig,
    flow: ContinuousFlow,
    split: DigitsSplit,
    classifier: DigitClassifier,
) -> list[dict]:
    """For each ``(method, steps)`` of ``config.solvers``: the NFE, the bound on the
    first ``config.sweep_images`` test images (one noise draw), the Fréchet distance of
    ``config.n_samples`` samples to the test split in ``classifier``'s features, and
    the CPU seconds per sample. One dict per solver."""
    check_split(split)
    if not isinstance(classifier, DigitClassifier):
        raise ValueError(
            f"classifier must be a DigitClassifier, got {type(classifier).__name__}"
        )
    rows = []
    subset = split.test[: config.sweep_images]
    for method, steps in config.solvers:
        solver = flow.with_solver(method, steps)
        nll, se = evaluate_digits(config, solver, subset, samples=1)
        pixels, seconds = sample_digits(solver, config.n_samples, config.sample_seed)
        rows.append(
            {
                "method": method,
                "steps": steps,
                "nfe": solver.nfe,
                "nll": nll,
                "nll_se": se,
                "fd": frechet_to_test(classifier, pixels, split),
                "seconds_per_image": seconds,
            }
        )
    return rows
