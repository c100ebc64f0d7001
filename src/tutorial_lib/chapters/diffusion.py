r"""The diffusion-models chapter: its configuration and the recipes that the notebook,
the ``diffusion`` benchmark and the tests all call.

2-D: a noise-prediction MLP is trained on the continuous-time bound (linear log-SNR
schedule) on densities with exact log-densities; its probability-flow ODE gives the
model's log-likelihood of a test sample, scored by the gap to the true entropy (the
flows chapter's :class:`~tutorial_lib.chapters.flows_2d.TestSet` and
:func:`~tutorial_lib.chapters.flows_2d.gap`). Digits: a convolutional
:class:`~tutorial_lib.diffusion.DiscreteDenoiser` with the discrete decoder at
:math:`t = 0`, trained on the 1,000 training images with the validation bound for
selection; the chapter reports the continuous-time bound (an ELBO) on the 447 test
images in nats per image, with its standard error over images, and the Fréchet
distance of samples against the number of sampling steps.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from ..data import check_density_names, get_density
from ..data.digits import LEVELS, DigitsSplit, check_split
from ..diffusion import (
    DiscreteDenoiser,
    LogSNRSchedule,
    MLPDenoiser,
    alpha_sigma,
    ancestral_sample,
    decoder_log_probs,
    elbo_terms,
    empirical_logits,
    grid_values,
    pf_ode_log_prob,
    score,
    train_denoiser,
)
from ..train import History, TrainConfig
from . import flows_2d
from .gan_digits import digits_classifier, frechet_to_test

__all__ = [
    "DiffusionConfig",
    "CONFIG",
    "make_test_set",
    "build_denoiser_2d",
    "train_2d",
    "gap_2d",
    "mixture_marginal",
    "score_error",
    "build_digits_denoiser",
    "train_digits",
    "digits_bound",
    "sample_digits",
    "sampling_seconds",
    "frechet_vs_steps",
    "digits_classifier",
]


@dataclass(frozen=True)
class DiffusionConfig:
    """The chapter's one configuration.

    2-D: ``datasets`` trained with ``train_2d`` (fresh batches from the density) by a
    :class:`~tutorial_lib.diffusion.MLPDenoiser` of ``hidden_2d`` units and
    ``depth_2d`` layers on ``schedule_2d``; the likelihood is the probability-flow
    ODE with ``ode_steps`` steps of ``ode_method`` on ``n_test`` test points (seed
    ``test_seed + i``). Digits: a convolutional ``DiscreteDenoiser`` (``width``
    channels, ``depth`` residual layers) on ``schedule_digits``, trained with
    ``train_digits`` and selected on the validation bound (``val_samples`` times per
    image); the test bound uses ``elbo_samples`` stratified times per image.
    ``sample_steps``: the numbers of ancestral steps of the sample-quality curve,
    ``n_samples`` images each (seed ``sample_seed``).
    """

    datasets: tuple[str, ...] = ("8gaussians", "moons")
    schedule_2d: LogSNRSchedule = LogSNRSchedule(6.0, -8.0)
    hidden_2d: int = 128
    depth_2d: int = 4
    frequencies: int = 4
    train_2d: TrainConfig = TrainConfig(
        steps=3000,
        batch_size=512,
        lr=3e-3,
        cosine=True,
        progress=False,
        desc="diffusion 2-D",
    )
    n_test: int = 2000
    test_seed: int = 300
    ode_steps: int = 25
    ode_method: str = "rk4"
    schedule_digits: LogSNRSchedule = LogSNRSchedule(10.0, -10.0)
    width: int = 64
    depth: int = 4
    train_digits: TrainConfig = TrainConfig(
        steps=300,
        batch_size=64,
        lr=2e-3,
        cosine=True,
        val_every=100,
        progress=False,
        desc="diffusion digits",
    )
    val_samples: int = 4
    elbo_samples: int = 16
    elbo_seed: int = 5
    sample_steps: tuple[int, ...] = (5, 20, 50)
    n_samples: int = 300
    sample_seed: int = 1
    model_seed: int = 0

    def __post_init__(self) -> None:
        check_density_names(self.datasets)
        for name in ("schedule_2d", "schedule_digits"):
            if not isinstance(getattr(self, name), LogSNRSchedule):
                raise ValueError(f"{name} must be a LogSNRSchedule")
        for name in ("train_2d", "train_digits"):
            if not isinstance(getattr(self, name), TrainConfig):
                raise ValueError(f"{name} must be a TrainConfig")
        for name in (
            "hidden_2d",
            "depth_2d",
            "n_test",
            "ode_steps",
            "width",
            "depth",
            "val_samples",
            "elbo_samples",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.n_test < 2 or self.n_samples < 2:
            raise ValueError("n_test and n_samples must be >= 2 (a standard error)")
        if self.ode_method not in ("euler", "midpoint", "rk4"):
            raise ValueError(
                f"ode_method must be euler, midpoint or rk4, got {self.ode_method!r}"
            )
        if (
            not isinstance(self.sample_steps, tuple)
            or not self.sample_steps
            or not all(isinstance(s, int) and s >= 1 for s in self.sample_steps)
        ):
            raise ValueError(
                f"sample_steps must be a non-empty tuple of ints >= 1, got "
                f"{self.sample_steps!r}"
            )
        for name in (
            "frequencies",
            "test_seed",
            "elbo_seed",
            "sample_seed",
            "model_seed",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")


#: The configuration of the chapter and of the ``diffusion`` benchmark.
CONFIG = DiffusionConfig()


def _check_config(config: DiffusionConfig) -> DiffusionConfig:
    if not isinstance(config, DiffusionConfig):
        raise ValueError(
            f"config must be a DiffusionConfig, got {type(config).__name__}"
        )
    return config


def _check_dataset(config: DiffusionConfig, dataset: str) -> int:
    _check_config(config)
    if dataset not in config.datasets:
        raise ValueError(f"dataset must be one of {config.datasets}, got {dataset!r}")
    return config.datasets.index(dataset)


def make_test_set(config: DiffusionConfig, dataset: str) -> flows_2d.TestSet:
    """``config.n_test`` points of ``dataset`` (seed ``test_seed + i``, ``i`` its
    position in ``config.datasets``) with their exact log-densities: the flows
    chapter's :func:`~tutorial_lib.chapters.flows_2d.make_test_set` with this
    chapter's datasets, size and seed."""
    _check_dataset(config, dataset)
    test_config = dataclasses.replace(
        flows_2d.CONFIG,
        datasets=config.datasets,
        n_test=config.n_test,
        test_seed=config.test_seed,
    )
    return flows_2d.make_test_set(test_config, dataset)


def build_denoiser_2d(config: DiffusionConfig) -> MLPDenoiser:
    """A fresh 2-D denoiser, initialised after ``torch.manual_seed(model_seed)``."""
    _check_config(config)
    torch.manual_seed(config.model_seed)
    return MLPDenoiser(2, config.hidden_2d, config.depth_2d, config.frequencies)


def train_2d(
    config: DiffusionConfig, dataset: str, *, device: torch.device | str | None = None
) -> tuple[MLPDenoiser, History]:
    """Train the 2-D denoiser on ``dataset`` with ``config.train_2d``; the model comes
    back on the CPU in eval mode, with its history."""
    _check_dataset(config, dataset)
    density = get_density(dataset)
    model = build_denoiser_2d(config)
    history = train_denoiser(
        model,
        lambda n, g: density.sample(n, g).float(),
        config.schedule_2d,
        config.train_2d,
        device=device,
    )
    return model.cpu().eval(), history


def gap_2d(
    config: DiffusionConfig, model: nn.Module, test: flows_2d.TestSet
) -> tuple[float, float]:
    """``(gap, standard error)``: the test NLL of the probability-flow ODE
    (``config.ode_steps`` steps of ``config.ode_method``) minus the true entropy on
    the same points."""
    if not isinstance(test, flows_2d.TestSet):
        raise ValueError(f"test must be a TestSet, got {type(test).__name__}")

    def log_prob(x: Tensor) -> Tensor:
        return pf_ode_log_prob(
            model, config.schedule_2d, x.float(), config.ode_steps, config.ode_method
        )

    return flows_2d.gap(log_prob, test)


def mixture_marginal(density, logsnr: float) -> MixtureSameFamily:
    r"""The exact noisy marginal :math:`q_t` of a Gaussian mixture
    :math:`\frac1K\sum_k \mathcal N(\mu_k, s^2 I)`: again a mixture, with means
    :math:`\alpha_t \mu_k` and variance :math:`\alpha_t^2 s^2 + \sigma_t^2`
    (float64)."""
    if not hasattr(density, "means") or not hasattr(density, "std"):
        raise ValueError(f"density must be a Gaussian mixture, got {density!r}")
    alpha, sigma = alpha_sigma(torch.tensor(float(logsnr), dtype=torch.float64))
    means = alpha * density.means
    std = (alpha**2 * density.std**2 + sigma**2).sqrt()
    k = means.shape[0]
    comp = Independent(Normal(means, std.expand_as(means)), 1)
    return MixtureSameFamily(
        Categorical(logits=torch.zeros(k, dtype=torch.float64)), comp
    )


def score_error(
    model: nn.Module, density, logsnr: float, n: int, seed: int
) -> tuple[float, float]:
    r"""On ``n`` points :math:`z \sim q_t` (seed ``seed``): the model's score against
    the exact score (autograd of the mixture's log-density), as ``(relative error,
    cosine)``: :math:`E\|s_\theta - s\|^2 / E\|s\|^2` and the mean cosine between
    them."""
    q = mixture_marginal(density, logsnr)
    torch.manual_seed(seed)
    z = q.sample((n,)).requires_grad_(True)
    (exact,) = torch.autograd.grad(q.log_prob(z).sum(), z)
    with torch.no_grad():
        lam = torch.full((n,), float(logsnr))
        learned = score(model, z.detach().float(), lam).double()
    rel = ((learned - exact) ** 2).sum(1).mean() / (exact**2).sum(1).mean()
    cos = torch.nn.functional.cosine_similarity(learned, exact, dim=1).mean()
    return rel.item(), cos.item()



def build_digits_denoiser(config: DiffusionConfig, train: Tensor) -> DiscreteDenoiser:
    """A fresh convolutional digits denoiser whose prior logits are the per-pixel
    log-frequencies of ``train`` (pixels 0..16, one pseudocount), initialised after
    ``torch.manual_seed(model_seed)``."""
    if not isinstance(train, Tensor) or train.dim() != 2 or train.shape[1] != 64:
        raise ValueError("train must be an (N, 64) tensor of pixels 0..16")
    torch.manual_seed(config.model_seed)
    return DiscreteDenoiser(
        64,
        LEVELS,
        config.width,
        config.depth,
        config.frequencies,
        prior_logits=empirical_logits(train, LEVELS),
        shape=(8, 8),
    )


def digits_bound(
    config: DiffusionConfig,
    model: nn.Module,
    pixels: Tensor,
    *,
    samples: int | None = None,
    steps: int | None = None,
) -> dict[str, float]:
    """The negative bound on the images ``pixels`` (0..16) in nats per image: the mean
    of each term (``reconstruction``, ``prior``, ``diffusion``, ``total``) and
    ``stderr``, the standard error of ``total`` over images (it includes the Monte
    Carlo noise of the times and the noise). ``samples`` (default
    ``config.elbo_samples``) stratified times per image, seed ``config.elbo_seed``;
    ``steps`` None is continuous time, an int the ``steps``-step model."""
    samples = config.elbo_samples if samples is None else samples
    model.eval()
    terms = elbo_terms(
        model,
        pixels,
        config.schedule_digits,
        LEVELS,
        torch.Generator().manual_seed(config.elbo_seed),
        steps=steps,
        samples=samples,
    )
    out = {name: value.mean().item() for name, value in terms.items()}
    out["stderr"] = terms["total"].std().item() / math.sqrt(len(pixels))
    return out


def train_digits(
    config: DiffusionConfig,
    split: DigitsSplit,
    *,
    device: torch.device | str | None = None,
) -> tuple[DiscreteDenoiser, History]:
    """Train the digits denoiser on the training images (scaled to [-1, 1]) with
    ``config.train_digits``, keeping the parameters with the best validation bound
    (``config.val_samples`` times per image). Returns the model (CPU, eval mode) and
    its history."""
    check_split(split)
    model = build_digits_denoiser(config, split.train)
    values = grid_values(LEVELS)
    history = train_denoiser(
        model,
        values[split.train.long()],
        config.schedule_digits,
        config.train_digits,
        val_fn=lambda m: digits_bound(config, m, split.val, samples=config.val_samples)[
            "total"
        ],
        device=device,
    )
    return model.cpu().eval(), history


@torch.no_grad()
def sample_digits(
    config: DiffusionConfig, model: nn.Module, n: int, steps: int, seed: int
) -> Tensor:
    """``n`` images by ``steps`` ancestral steps (noise seed ``seed``), decoded at
    :math:`t = 0` by drawing each pixel from the discrete decoder: pixel values
    0..16, ``(n, 64)``."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    generator = torch.Generator().manual_seed(seed)
    schedule = config.schedule_digits
    z0 = ancestral_sample(model, n, 64, schedule, steps, generator)
    lam = schedule.logsnr(torch.zeros(n))
    logp = decoder_log_probs(z0, lam, LEVELS)  # (n, 64, 17)
    u = torch.rand(logp.shape[:2], generator=generator)[..., None]
    return (logp.exp().cumsum(-1) < u).sum(-1).clamp(max=LEVELS - 1).float()


def sampling_seconds(
    config: DiffusionConfig, model: nn.Module, n: int, steps: int, seed: int
) -> tuple[Tensor, float]:
    """:func:`sample_digits` and its CPU seconds per image (``time.process_time``)."""
    start = time.process_time()
    x = sample_digits(config, model, n, steps, seed)
    return x, (time.process_time() - start) / n


def frechet_vs_steps(
    config: DiffusionConfig, model: nn.Module, classifier: nn.Module, split: DigitsSplit
) -> list[tuple[int, float, float]]:
    """For each number of steps in ``config.sample_steps``: ``(steps, Fréchet distance
    of config.n_samples samples to the test images, CPU seconds per image)``."""
    check_split(split)
    rows = []
    for steps in config.sample_steps:
        x, per_image = sampling_seconds(
            config, model, config.n_samples, steps, config.sample_seed
        )
        rows.append((steps, frechet_to_test(classifier, x, split), per_image))
    return rows
