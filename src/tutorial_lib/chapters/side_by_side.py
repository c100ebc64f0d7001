r"""The side-by-side chapter: every family of the book on the same digits split, with
the same measures.

Each deep model is the digits model of its own chapter, trained by that chapter's recipe
with that chapter's configuration (imported here, never copied). Training them all takes
minutes, so the trained weights are kept in the model cache (:mod:`tutorial_lib.cache`,
keyed by the configuration and the library's source) and trained again only when
missing; the measures are computed afresh on every run. The baselines (independent
pixels, a Gaussian mixture and a Gaussian KDE of dequantised pixels) are fitted live.

Measures, per model: the test NLL in nats per image with the kind of number it is
(exact, importance-weighted bound, ELBO, dequantisation bound through a flow or an ODE);
the Fréchet distance of ``n_samples`` samples to the test images in the features of the
GAN chapter's digit classifier; how many digit classes the samples cover; the mean
distance from a sample to its nearest training image (beside the same for test images: a
model that copies its training set comes out below that floor); training seconds; CPU
milliseconds per sampled image; sequential network passes per sample; parameters; and,
where the model has a latent space with an encoder (the VAE, the flow), the test
accuracy of a linear probe on it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..baselines import GaussianKDE, IndependentPixels, select_bandwidth, select_gmm
from ..cache import Cached, load_or_build
from ..data.digits import DigitsSplit, check_split, dequantize
from ..metrics import discrete_nll
from ..metrics.digit_features import DigitClassifier
from ..utils import count_parameters
from ..vae.model import build_vae
from .side_by_side_2d import with_seconds
from . import (
    autoregressive,
    diffusion,
    flow_digits,
    flow_matching,
    gan_digits,
    vae_digits,
)

__all__ = [
    "SideBySideConfig",
    "CONFIG",
    "FAMILIES",
    "DigitsRow",
    "trained_model",
    "evaluate_family",
    "nearest_distance",
    "linear_probe",
    "warm_cache",
]

LEVELS = 17


@dataclass(frozen=True)
class SideBySideConfig:
    """``n_samples`` samples per model (noise seed ``sample_seed``); diffusion samples
    with ``diffusion_steps`` ancestral steps (one of its chapter's sweep); the
    baselines' likelihoods average ``baseline_samples`` dequantisation draws (seed
    ``baseline_seed``); the linear probe is scikit-learn's logistic regression with
    ``probe_max_iter`` iterations."""

    n_samples: int = 300
    sample_seed: int = 21
    diffusion_steps: int = 20
    baseline_samples: int = 4
    baseline_seed: int = 3
    probe_max_iter: int = 2000

    def __post_init__(self) -> None:
        for name, low in (
            ("n_samples", 2),
            ("sample_seed", 0),
            ("diffusion_steps", 1),
            ("baseline_samples", 1),
            ("baseline_seed", 0),
            ("probe_max_iter", 1),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if self.diffusion_steps not in diffusion.CONFIG.sample_steps:
            raise ValueError(
                f"diffusion_steps must be one of the diffusion chapter's "
                f"{diffusion.CONFIG.sample_steps}, got {self.diffusion_steps!r}"
            )


#: The chapter's configuration.
CONFIG = SideBySideConfig()



# --- the deep families: each chapter's recipe, its empty model and its measures -------


def _fm_empty(c: flow_matching.FlowMatchingConfig = flow_matching.CONFIG) -> nn.Module:
    velocity = flow_matching.build_velocity(c.digits, 64, c.model_seed)
    return flow_matching.ContinuousFlow(
        velocity,
        64,
        c.digits.method,
        c.digits.steps,
        flow_matching.digits_preprocess(c),
    )


#: The chapters' digits models: ``(name, chapter configuration, build(split) -> (model,
#: record), empty() -> model)``.
_DEEP: dict[str, tuple[object, Callable, Callable]] = {
    "VAE": (
        vae_digits.CONFIG,
        lambda s: with_seconds(vae_digits.train_digits_vae(s.train, s.val)),
        lambda: build_vae(vae_digits.CONFIG.model),
    ),
    "GAN": (
        gan_digits.CONFIG,
        lambda s: with_seconds(
            gan_digits.train_digits_gan(s, "mlp", 0, progress=False)
        ),
        lambda: gan_digits.build_digits_gan("mlp")[0],
    ),
    "spline flow": (
        flow_digits.CONFIG,
        lambda s: with_seconds(
            flow_digits.train_digits_flow(flow_digits.CONFIG, s.train, s.val)
        ),
        lambda: flow_digits.build_digits_flow(flow_digits.CONFIG, "spline"),
    ),
    "PixelCNN": (
        autoregressive.CONFIG,
        lambda s: with_seconds(
            autoregressive.train_digits_model(autoregressive.CONFIG, s.train, s.val)
        ),
        lambda: autoregressive.build_model(
            autoregressive.CONFIG,
            autoregressive.CONFIG.model,
            autoregressive.CONFIG.model_seed,
        ),
    ),
    "diffusion": (
        diffusion.CONFIG,
        lambda s: with_seconds(diffusion.train_digits(diffusion.CONFIG, s)),
        None,  # needs the training images: see trained_model
    ),
    "flow matching": (
        flow_matching.CONFIG,
        lambda s: with_seconds(flow_matching.train_digits(flow_matching.CONFIG, s)),
        _fm_empty,
    ),
}

#: Every family of the chapter's digits table, baselines first.
FAMILIES: tuple[str, ...] = (
    "independent pixels",
    "Gaussian mixture",
    "Gaussian KDE",
    *_DEEP,
)


def trained_model(family: str, split: DigitsSplit) -> Cached:
    """The digits model of the deep family ``family`` (a key of the chapters' models:
    VAE, GAN, spline flow, PixelCNN, diffusion, flow matching), from the model cache or
    trained by its chapter's recipe when missing."""
    check_split(split)
    if family not in _DEEP:
        raise ValueError(f"family must be one of {tuple(_DEEP)}, got {family!r}")
    config, build, empty = _DEEP[family]
    if empty is None:
        empty = lambda: diffusion.build_digits_denoiser(
            diffusion.CONFIG, split.train
        )  # noqa: E731
    name = family.replace(" ", "_")
    with torch.random.fork_rng():
        return load_or_build(name, config, lambda: build(split), empty)


def warm_cache(split: DigitsSplit) -> dict[str, Cached]:
    """Every deep family's model, trained (and cached) where missing."""
    check_split(split)
    return {family: trained_model(family, split) for family in _DEEP}


# --- the measures -------------------------------------------------------------------


@dataclass(frozen=True)
class DigitsRow:
    """One family on the digits: see the module's docstring. ``nll`` and ``nll_se`` are
    None for a model without a likelihood, ``probe`` for one without an encoder."""

    family: str
    nll: float | None
    nll_se: float | None
    nll_kind: str
    fd: float
    classes: int
    smallest_class: int
    nearest: float
    train_seconds: float
    ms_per_image: float
    passes: int
    parameters: int
    probe: float | None


@torch.no_grad()
def nearest_distance(x: Tensor, train: Tensor) -> float:
    """The mean over the rows of ``x`` ``(N, 64)`` of the Euclidean distance (in pixel
    levels) to the nearest row of ``train``."""
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] != train.shape[1]:
        raise ValueError(f"x must be an (N, {train.shape[1]}) tensor")
    return float(torch.cdist(x.double(), train.double()).min(1).values.mean())


def linear_probe(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    max_iter: int = 2000,
) -> float:
    """Test accuracy of a logistic regression (scikit-learn, standardised features)
    fitted to predict the digit from ``train_features``."""
    if train_features.dim() != 2 or len(train_features) != len(train_labels):
        raise ValueError("train_features must be (N, d) with one label per row")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    with threadpool_limits(limits=1):
        probe.fit(train_features.double().numpy(), train_labels.numpy())
        return float(probe.score(test_features.double().numpy(), test_labels.numpy()))


class _Density(nn.Module):
    """A ``log_prob`` on dequantised pixels as a module (for ``discrete_nll``)."""

    def __init__(self, log_prob: Callable[[Tensor], Tensor]):
        super().__init__()
        self._log_prob = log_prob

    def log_prob(self, x: Tensor) -> Tensor:
        return self._log_prob(x)


def _baseline(family: str, split: DigitsSplit, config: SideBySideConfig) -> dict:
    g = torch.Generator().manual_seed(config.baseline_seed)
    start = time.perf_counter()
    if family == "independent pixels":
        model = IndependentPixels(split.train, LEVELS)
        seconds = time.perf_counter() - start
        lp = model.log_prob(split.test).double()
        nll, se = float(-lp.mean()), float(lp.std() / math.sqrt(len(lp)))
        sampler = lambda n: model.sample_images(n, g).float()  # noqa: E731
        return dict(
            model=None,
            nll=nll,
            se=se,
            kind="exact",
            seconds=seconds,
            sampler=sampler,
            params=LEVELS * 64,
        )
    train, val = dequantize(split.train, g).double(), dequantize(split.val, g).double()
    if family == "Gaussian mixture":
        mixture, _ = select_gmm(train, val)
        log_prob, params = mixture.log_prob, _mixture_parameters(mixture)
        sampler = (
            lambda n: mixture.sample((n,)).floor().clamp(0, 16).float()
        )  # noqa: E731
    else:
        kde, _ = select_bandwidth(train, val)
        log_prob, params = kde.log_prob, 0
        sampler = lambda n: kde.sample(n, g).floor().clamp(0, 16).float()  # noqa: E731
    seconds = time.perf_counter() - start
    density = _Density(lambda x: log_prob(x.double()))
    nll, se = discrete_nll(
        density, split.test, samples=config.baseline_samples, seed=config.baseline_seed
    )
    return dict(
        model=None,
        nll=nll,
        se=se,
        kind="dequantisation bound",
        seconds=seconds,
        sampler=sampler,
        params=params,
    )


def _mixture_parameters(mixture) -> int:
    k, d = mixture.component_distribution.loc.shape
    return (k - 1) + k * d + k * d * (d + 1) // 2


def _deep(family: str, split: DigitsSplit, config: SideBySideConfig) -> dict:
    cached = trained_model(family, split)
    model = cached.model
    g = torch.Generator().manual_seed(config.sample_seed)
    n_test = split.test
    latent = None
    if family == "VAE":
        ev = vae_digits.evaluate_digits_vae(model, split.val, n_test)
        nll, se, kind = ev.nll, ev.nll_se, f"importance-weighted bound, k = {ev.k}"
        sampler = lambda n: model.sample(n, g, mean=False).float()  # noqa: E731
        latent = lambda x: model.posterior(x.float()).mean  # noqa: E731
        passes = 1
    elif family == "GAN":
        nll, se, kind = None, None, "none"
        sampler = lambda n: gan_digits.sample_digits(  # noqa: E731
            model, n, config.sample_seed
        )
        passes = 1
    elif family == "spline flow":
        nll, se = flow_digits.evaluate(flow_digits.CONFIG, model, n_test)
        kind = "dequantisation bound"
        sampler = lambda n: model.sample(n, g).floor().clamp(0, 16)  # noqa: E731
        latent = lambda x: model(x.float() + 0.5)[0]  # noqa: E731  # bin centres
        passes = 1
    elif family == "PixelCNN":
        nll, se = autoregressive.evaluate(model, n_test)
        kind = "exact"
        sampler = lambda n: model.sample(n, g).float()  # noqa: E731
        passes = 64
    elif family == "diffusion":
        bound = diffusion.digits_bound(diffusion.CONFIG, model, n_test)
        nll, se, kind = bound["total"], bound["stderr"], "ELBO (continuous time)"
        steps = config.diffusion_steps
        sampler = lambda n: diffusion.sample_digits(  # noqa: E731
            diffusion.CONFIG, model, n, steps, config.sample_seed
        )
        passes = steps
    else:  # flow matching
        nll, se = flow_matching.evaluate_digits(flow_matching.CONFIG, model, n_test)
        kind = f"dequantisation bound through the ODE ({model.nfe} evaluations)"
        sampler = lambda n: flow_matching.sample_digits(  # noqa: E731
            model, n, config.sample_seed
        )[0]
        passes = model.nfe
    return dict(
        model=model,
        nll=nll,
        se=se,
        kind=kind,
        seconds=cached.record["seconds"],
        sampler=sampler,
        params=count_parameters(model),
        latent=latent,
        passes=passes,
    )


def evaluate_family(
    family: str,
    split: DigitsSplit,
    classifier: DigitClassifier,
    config: SideBySideConfig = CONFIG,
) -> tuple[DigitsRow, Tensor]:
    """The row of ``family`` (one of :data:`FAMILIES`) and its ``config.n_samples``
    samples ``(n, 64)`` (pixel values 0..16)."""
    check_split(split)
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    if not isinstance(classifier, DigitClassifier):
        raise ValueError(f"classifier must be a DigitClassifier, got {classifier!r}")
    if not isinstance(config, SideBySideConfig):
        raise ValueError(f"config must be a SideBySideConfig, got {config!r}")
    with torch.random.fork_rng():
        torch.manual_seed(config.sample_seed)
        parts = (_deep if family in _DEEP else _baseline)(family, split, config)
        start = time.process_time()
        with torch.no_grad():
            x = parts["sampler"](config.n_samples).cpu().float()  # (n, 64)
        ms = 1e3 * (time.process_time() - start) / config.n_samples
    counts = gan_digits.class_counts(classifier, x)
    probe = None
    if parts.get("latent") is not None:
        with torch.no_grad():
            f_train = parts["latent"](split.train).cpu()
            f_test = parts["latent"](split.test).cpu()
        probe = linear_probe(
            f_train,
            split.train_labels,
            f_test,
            split.test_labels,
            config.probe_max_iter,
        )
    row = DigitsRow(
        family=family,
        nll=parts["nll"],
        nll_se=parts["se"],
        nll_kind=parts["kind"],
        fd=gan_digits.frechet_to_test(classifier, x, split),
        classes=int((counts > 0).sum()),
        smallest_class=int(counts.min()),
        nearest=nearest_distance(x, split.train),
        train_seconds=float(parts["seconds"]),
        ms_per_image=ms,
        passes=parts.get("passes", 0),
        parameters=int(parts["params"]),
        probe=probe,
    )
    return row, x


if __name__ == "__main__":  # ``python -m tutorial_lib.chapters.side_by_side``
    from ..data import load_digits_split
    from ..utils import setup
    from .side_by_side_2d import warm_cache_2d

    setup(0)
    for family, cached in warm_cache(load_digits_split()).items():
        state = "cached" if cached.hit else "trained"
        print(f"digits, {family}: {state} ({cached.record['seconds']:.1f} s)")
    for (family, dataset), cached in warm_cache_2d().items():
        state = "cached" if cached.hit else "trained"
        print(f"{dataset}, {family}: {state} ({cached.record['seconds']:.1f} s)")
