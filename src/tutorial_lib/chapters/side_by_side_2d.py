r"""The side-by-side chapter's 2-D half: every family on the same 2-D densities.

Each model is trained by its own chapter's recipe with its own chapter's configuration:
the Gaussian mixture and the KDE as in the foundations chapter (sizes, seeds and
candidates of ``foundations.CONFIG``), the VAE with the ELBO chapter's 2-D model and
training, the GAN with the mode-collapse chapter's remedy for the 8-mode ring, the three
flows of the flows chapter, the diffusion model and the flow-matching model of their
chapters. The deep models come from the model cache (:mod:`tutorial_lib.cache`) and are
trained when missing.

Measures: the gap, test NLL minus the true entropy on the flows chapter's test points,
with the kind of likelihood it rests on (exact, importance-weighted bound, or the exact
likelihood of an ODE); the squared maximum mean discrepancy (unbiased, Gaussian kernel
with the median bandwidth) between ``n_samples`` samples of the model and as many fresh
points of the density, beside the same between two fresh samples of the density (its
floor); training seconds; CPU milliseconds per 1,000 samples.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..baselines import select_bandwidth, select_gmm
from ..cache import load_or_build
from ..data import get_density
from ..diffusion.sampling import pf_ode_sample
from ..flows import build_flow
from ..gan.training import generate
from ..metrics import mmd2_unbiased
from ..vae.model import build_vae
from ..vae.objectives import iwae_log_likelihood
from . import diffusion, elbo, flow_matching, flows_2d, foundations, mode_collapse

__all__ = [
    "Config2D",
    "CONFIG_2D",
    "FAMILIES_2D",
    "Row2D",
    "trained_2d",
    "warm_cache_2d",
    "evaluate_2d",
]

#: The 2-D families, baselines first.
FAMILIES_2D: tuple[str, ...] = (
    "Gaussian mixture",
    "Gaussian KDE",
    "VAE",
    "GAN",
    "RealNVP",
    "MAF",
    "spline flow",
    "diffusion",
    "flow matching",
)
_FLOWS = {"RealNVP": "realnvp", "MAF": "maf", "spline flow": "spline"}


@dataclass(frozen=True)
class Config2D:
    """``datasets`` (densities that every chapter's configuration accepts), samples of
    ``n_samples`` points per model and per reference (seeds ``sample_seed`` and
    ``truth_seed``), ``floor_pairs`` pairs of fresh samples of the truth for the MMD's
    floor (seeds ``truth_seed + 1 + i``), and ``k`` importance samples for the VAE."""

    datasets: tuple[str, ...] = ("8gaussians", "moons")
    n_samples: int = 2_000
    sample_seed: int = 31
    truth_seed: int = 32
    floor_pairs: int = 5
    k: int = 200

    def __post_init__(self) -> None:
        shared = set(diffusion.CONFIG.datasets) & set(flows_2d.CONFIG.datasets)
        shared &= set(flow_matching.CONFIG.datasets)
        if not self.datasets or not set(self.datasets) <= shared:
            raise ValueError(
                f"datasets must be a non-empty subset of {sorted(shared)}, "
                f"got {self.datasets!r}"
            )
        for name, low in (
            ("n_samples", 2),
            ("sample_seed", 0),
            ("truth_seed", 0),
            ("floor_pairs", 2),
            ("k", 1),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


#: The chapter's 2-D configuration.
CONFIG_2D = Config2D()


def with_seconds(result: tuple) -> tuple:
    """A chapter recipe's ``(model, history or list of histories)`` as ``(model,
    record)`` for the model cache, the record holding the training seconds."""
    model, history = result
    items = history if isinstance(history, list) else [history]
    return model, {"seconds": float(sum(h.seconds for h in items))}


def _deep(family: str, dataset: str) -> tuple[object, callable, callable]:
    """``(configuration, build, empty)`` of a deep 2-D family on ``dataset``."""
    if family == "VAE":
        return (
            elbo.CONFIG,
            lambda: with_seconds(elbo.train_vae_2d(elbo.CONFIG, data=dataset)),
            lambda: build_vae(elbo.CONFIG.model),
        )
    if family == "GAN":
        gan = mode_collapse.gan_config("ring", "remedy")
        return (
            mode_collapse.CONFIG,
            lambda: with_seconds(
                mode_collapse.train_2d("ring", "remedy", progress=False, data=dataset)
            ),
            lambda: gan.build()[0],
        )
    if family in _FLOWS:
        kind = _FLOWS[family]
        return (
            flows_2d.CONFIG,
            lambda: with_seconds(flows_2d.train_flow(flows_2d.CONFIG, dataset, kind)),
            lambda: build_flow(flows_2d.CONFIG.models[kind], 2),
        )
    if family == "diffusion":
        return (
            diffusion.CONFIG,
            lambda: with_seconds(diffusion.train_2d(diffusion.CONFIG, dataset)),
            lambda: diffusion.build_denoiser_2d(diffusion.CONFIG),
        )
    c = flow_matching.CONFIG
    return (
        c,
        lambda: with_seconds(flow_matching.train_2d(c, dataset)),
        lambda: flow_matching.ContinuousFlow(
            flow_matching.build_velocity(c.model2d, 2, c.model_seed),
            2,
            c.model2d.method,
            c.model2d.steps,
        ),
    )


def trained_2d(family: str, dataset: str, config: Config2D = CONFIG_2D):
    """The model of the deep family ``family`` on ``dataset`` from the model cache, or
    trained by its chapter's recipe when missing (a :class:`~tutorial_lib.cache.Cached`
    record)."""
    if family not in FAMILIES_2D[2:]:
        raise ValueError(f"family must be one of {FAMILIES_2D[2:]}, got {family!r}")
    if not isinstance(config, Config2D) or dataset not in config.datasets:
        raise ValueError(
            f"dataset must be one of the configuration's datasets, got " f"{dataset!r}"
        )
    chapter_config, build, empty = _deep(family, dataset)
    name = f"2d_{family.replace(' ', '_')}_{dataset}"
    with torch.random.fork_rng():
        return load_or_build(name, (chapter_config, dataset), build, empty)


def warm_cache_2d(config: Config2D = CONFIG_2D) -> dict:
    """Every deep 2-D model on every density of ``config``, trained (and cached) where
    missing, keyed by ``(family, dataset)``."""
    if not isinstance(config, Config2D):
        raise ValueError(f"config must be a Config2D, got {config!r}")
    return {
        (family, dataset): trained_2d(family, dataset, config)
        for dataset in config.datasets
        for family in FAMILIES_2D[2:]
    }


@dataclass(frozen=True)
class Row2D:
    """One family on one density: the gap (None without a likelihood) with its
    standard error and kind, the squared MMD to fresh points of the density, the
    training seconds and the CPU milliseconds per 1,000 samples."""

    family: str
    dataset: str
    gap: float | None
    gap_se: float | None
    kind: str
    mmd2: float
    train_seconds: float
    ms_per_1000: float


def _baselines(dataset: str) -> dict:
    c = foundations.CONFIG
    density = get_density(dataset)
    index = c.datasets.index(dataset)
    g = torch.Generator().manual_seed(c.seed + index)
    train, val = density.sample(c.n_train, g), density.sample(c.n_val, g)
    start = time.perf_counter()
    gmm, _ = select_gmm(train, val, c.gmm)
    gmm_s = time.perf_counter() - start
    start = time.perf_counter()
    kde, _ = select_bandwidth(train, val, c.kde)
    kde_s = time.perf_counter() - start
    return {
        "Gaussian mixture": (gmm.log_prob, lambda n, g: gmm.sample((n,)), gmm_s),
        "Gaussian KDE": (kde.log_prob, kde.sample, kde_s),
    }


def evaluate_2d(
    dataset: str, config: Config2D = CONFIG_2D
) -> tuple[list[Row2D], float, dict]:
    """Every family of :data:`FAMILIES_2D` on ``dataset``: the rows, the MMD floor
    ``(mean, standard deviation)`` over ``config.floor_pairs`` pairs of fresh samples
    of the density, and each family's samples ``(n_samples, 2)``."""
    if not isinstance(config, Config2D) or dataset not in config.datasets:
        raise ValueError(
            f"dataset must be one of the configuration's datasets, got " f"{dataset!r}"
        )
    density = get_density(dataset)
    test = flows_2d.make_test_set(flows_2d.CONFIG, dataset)
    truth = density.sample(
        config.n_samples, torch.Generator().manual_seed(config.truth_seed)
    ).float()
    floors = []
    for i in range(config.floor_pairs):  # two fresh samples of the truth, compared
        g = torch.Generator().manual_seed(config.truth_seed + 1 + i)
        pair = [density.sample(config.n_samples, g).float() for _ in range(2)]
        floors.append(mmd2_unbiased(*pair))
    floor = torch.tensor(floors, dtype=torch.float64)
    rows, samples = [], {}
    with torch.random.fork_rng():
        torch.manual_seed(config.sample_seed)
        parts = _baselines(dataset)
        for family in FAMILIES_2D:
            g = torch.Generator().manual_seed(config.sample_seed)
            if family in parts:
                log_prob, sampler, seconds = parts[family]
                kind = "exact"
                gap_of = _gap_fn(log_prob)
            else:
                cached = trained_2d(family, dataset, config)
                seconds = cached.record["seconds"]
                gap_of, sampler, kind = _access(family, cached.model, config)
            start = time.process_time()
            with torch.no_grad():
                x = sampler(config.n_samples, g).float().cpu()
            ms = 1e3 * (time.process_time() - start) * 1000 / config.n_samples
            gap, se = (None, None) if gap_of is None else gap_of(test)
            samples[family] = x
            rows.append(
                Row2D(
                    family,
                    dataset,
                    gap,
                    se,
                    kind,
                    mmd2_unbiased(x, truth),
                    float(seconds),
                    ms,
                )
            )
    return rows, (float(floor.mean()), float(floor.std())), samples


def _gap_fn(log_prob, batch_size: int = 20_000):
    return lambda test: flows_2d.gap(
        lambda v: log_prob(v.float()).double(), test, batch_size
    )


def _access(family: str, model: nn.Module, config: Config2D):
    """``(gap(test) or None, sampler(n, generator), kind)`` of a deep 2-D model."""
    if family == "VAE":
        return (
            _gap_fn(lambda x: iwae_log_likelihood(model, x, config.k), 250),
            lambda n, g: model.sample(n, g),
            f"importance-weighted bound, k = {config.k}",
        )
    if family == "GAN":
        return None, lambda n, g: generate(model, n, seed=config.sample_seed), "none"
    if family == "diffusion":
        c = diffusion.CONFIG

        def sample(n: int, g: torch.Generator) -> Tensor:
            return pf_ode_sample(
                model, n, 2, c.schedule_2d, c.ode_steps, g, c.ode_method
            )

        gap = lambda test: diffusion.gap_2d(c, model, test)  # noqa: E731
        return gap, sample, "exact, of the probability-flow ODE"
    kind = "exact" if family in _FLOWS else "exact, of the ODE"
    return _gap_fn(model.log_prob), model.sample, kind
