r"""The applications chapter, part one: anomaly detection with likelihoods.

Every likelihood model of the book (the independent-pixels, Gaussian-mixture and KDE
baselines, the VAE, the spline flow, the PixelCNN, the diffusion model and the
flow-matching model) is trained by its own chapter's recipe and configuration (imported,
never copied) on the training digits *without* the classes ``held_out``, once per seed
of ``seeds``. Each then scores, with its log-likelihood (exact, or the bound its chapter
reports), the normal test digits (the test images of the training classes) and the
anomalies: the test digits of each held-out class, and the first ``n_corrupted`` normal
test digits corrupted four ways (:func:`corrupt`: noise, inversion, a shift, a blank
canvas).

Three anomaly scores are compared, larger meaning "more anomalous":

- ``"nll"``: the negative log-likelihood, :math:`-\log p(x)`;
- ``"typicality"``: its distance to the mean NLL of the (normal) validation digits,
  :math:`|-\log p(x) - \hat H|`, the one-input version of the typicality test of
  Nalisnick et al. (2019, arXiv:1906.02994);
- ``"ratio"``: the likelihood ratio against a background model, :math:`-\log p(x) +
  \log p_0(x)` (Ren et al. 2019, arXiv:1906.02845), the background :math:`p_0` being
  the independent-pixels model fitted to the training digits with a fraction
  ``background_rate`` of their pixels replaced by uniform random levels.

The trained weights live in the model cache (:mod:`tutorial_lib.cache`), keyed by the
chapter's configuration with its seed, the held-out classes and the library's source;
every score is computed afresh.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from ..baselines import GMMConfig, IndependentPixels, select_bandwidth, select_gmm
from ..cache import Cached, load_or_build
from ..data.digits import LEVELS, DigitsSplit, check_split, dequantize
from ..diffusion.objectives import elbo_terms
from ..metrics import Detection, detection_metrics, discrete_log_likelihood
from ..vae.model import build_vae
from ..vae.objectives import iwae_log_likelihood
from .side_by_side import _fm_empty
from .side_by_side_2d import with_seconds
from . import autoregressive, diffusion, flow_digits, flow_matching, vae_digits

__all__ = [
    "AnomalyConfig",
    "CONFIG",
    "FAMILIES",
    "DEEP_FAMILIES",
    "SCORES",
    "CORRUPTIONS",
    "normal_split",
    "corrupt",
    "anomaly_sets",
    "trained_model",
    "log_likelihood",
    "FamilyScores",
    "score_family",
    "detection_table",
    "background_model",
    "warm_cache",
]

#: The deep likelihood models, each from its own chapter.
DEEP_FAMILIES: tuple[str, ...] = (
    "VAE",
    "spline flow",
    "PixelCNN",
    "diffusion",
    "flow matching",
)
#: Every likelihood model of the chapter, baselines first.
FAMILIES: tuple[str, ...] = (
    "independent pixels",
    "Gaussian mixture",
    "Gaussian KDE",
    *DEEP_FAMILIES,
)
#: The anomaly scores compared (see the module's docstring).
SCORES: tuple[str, ...] = ("nll", "typicality", "ratio")
#: The corruptions of :func:`corrupt`, in order.
CORRUPTIONS: tuple[str, ...] = ("noise", "inversion", "shift", "blank")


def _is_int(value: object, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


@dataclass(frozen=True)
class AnomalyConfig:
    """The models train without the digit classes ``held_out``, once per seed of
    ``seeds`` (the seed of each chapter's model; the baselines' dequantisation and
    mixture seeds). ``n_corrupted`` normal test digits are corrupted (generator seed
    ``corruption_seed``): Gaussian noise of ``noise_std`` levels, inversion, a shift
    by ``shift`` pixels to the right, and a blank canvas where each pixel is 0 except,
    with probability ``blank_rate``, a level from 1 to ``blank_max``. Scores: the VAE's
    importance-weighted bound with ``vae_k`` samples; the diffusion model's bound with
    ``elbo_samples`` times per image; the dequantisation bounds with
    ``dequantisation_samples`` noise draws, ``ode_samples`` for the flow-matching
    model, whose every draw solves an ODE (seed ``score_seed``); the background
    model's pixels are replaced with probability ``background_rate`` (seed
    ``background_seed``)."""

    held_out: tuple[int, ...] = (0, 1)
    seeds: tuple[int, ...] = (0, 1, 2)
    n_corrupted: int = 100
    corruption_seed: int = 17
    noise_std: float = 3.0
    shift: int = 2
    blank_rate: float = 0.1
    blank_max: int = 4
    vae_k: int = 200
    elbo_samples: int = 32
    dequantisation_samples: int = 4
    ode_samples: int = 1
    score_seed: int = 5
    background_rate: float = 0.2
    background_seed: int = 23

    def __post_init__(self) -> None:
        held = self.held_out
        if (
            not isinstance(held, tuple)
            or not held
            or len(set(held)) != len(held)
            or not all(_is_int(c, 0) and c <= 9 for c in held)
            or len(held) > 8
        ):
            raise ValueError(
                f"held_out must be a tuple of 1 to 8 distinct digits 0..9, got {held!r}"
            )
        seeds = self.seeds
        if not isinstance(seeds, tuple) or not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be a tuple of distinct ints, got {seeds!r}")
        if not all(_is_int(s, 0) for s in seeds):
            raise ValueError(f"seeds must be non-negative ints, got {seeds!r}")
        for name, low in (
            ("n_corrupted", 2),
            ("corruption_seed", 0),
            ("shift", 1),
            ("blank_max", 1),
            ("vae_k", 1),
            ("elbo_samples", 1),
            ("dequantisation_samples", 1),
            ("ode_samples", 1),
            ("score_seed", 0),
            ("background_seed", 0),
        ):
            if not _is_int(value := getattr(self, name), low):
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if self.shift > 7 or self.blank_max > LEVELS - 1:
            raise ValueError(
                f"shift must be at most 7 and blank_max at most {LEVELS - 1}"
            )
        for name in ("noise_std", "blank_rate", "background_rate"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ValueError(f"{name} must be a number, got {value!r}")
            if not 0 < value <= (100 if name == "noise_std" else 1):
                raise ValueError(f"{name} is out of range, got {value!r}")

    @property
    def kinds(self) -> tuple[str, ...]:
        """The anomaly kinds: each held-out class, then the corruptions."""
        return (*(f"unseen {c}s" for c in self.held_out), *CORRUPTIONS)


#: The chapter's configuration.
CONFIG = AnomalyConfig()


def _check_config(config: object) -> AnomalyConfig:
    if not isinstance(config, AnomalyConfig):
        raise ValueError(f"config must be an AnomalyConfig, got {config!r}")
    return config


def normal_split(split: DigitsSplit, held_out: tuple[int, ...]) -> DigitsSplit:
    """``split`` without the images of the classes ``held_out`` in every part."""
    check_split(split)
    AnomalyConfig(held_out=held_out)  # validates held_out
    parts = {}
    for part in ("train", "val", "test"):
        labels = getattr(split, f"{part}_labels")
        keep = ~torch.isin(labels, torch.tensor(held_out))
        parts[part], parts[f"{part}_labels"] = getattr(split, part)[keep], labels[keep]
    return DigitsSplit(**parts, levels=split.levels)


def corrupt(x: Tensor, config: AnomalyConfig = CONFIG) -> dict[str, Tensor]:
    """The images ``x`` ``(N, 64)`` (pixel levels 0..16) corrupted four ways, each
    ``(N, 64)`` on the same levels: ``"noise"`` (Gaussian noise of
    ``config.noise_std`` levels, rounded and clipped), ``"inversion"`` (16 − x),
    ``"shift"`` (moved ``config.shift`` pixels right, zeros entering on the left),
    ``"blank"`` (an empty canvas of faint specks; see :class:`AnomalyConfig`)."""
    _check_config(config)
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] != 64:
        raise ValueError("x must be an (N, 64) tensor of pixel levels")
    top = LEVELS - 1
    g = torch.Generator().manual_seed(config.corruption_seed)
    noise = torch.randn(x.shape, generator=g, dtype=x.dtype) * config.noise_std
    image = x.view(-1, 8, 8)
    shifted = torch.zeros_like(image)
    shifted[:, :, config.shift :] = image[:, :, : 8 - config.shift]
    specks = torch.rand(x.shape, generator=g) < config.blank_rate
    levels = torch.randint(1, config.blank_max + 1, x.shape, generator=g)
    return {
        "noise": (x + noise).round().clamp(0, top),
        "inversion": top - x,
        "shift": shifted.reshape(x.shape),
        "blank": torch.where(specks, levels, 0).to(x.dtype),
    }


def anomaly_sets(
    split: DigitsSplit, config: AnomalyConfig = CONFIG
) -> dict[str, Tensor]:
    """The anomalies of each kind of ``config.kinds``: the test digits of each held-out
    class, and the first ``config.n_corrupted`` normal test digits corrupted."""
    check_split(split)
    _check_config(config)
    out = {f"unseen {c}s": split.test[split.test_labels == c] for c in config.held_out}
    normal = normal_split(split, config.held_out).test
    return out | corrupt(normal[: config.n_corrupted], config)


# --- the models ------------------------------------------------------------------


def _seeded(family: str, seed: int) -> object:
    """The chapter configuration of ``family`` with its model seed set to ``seed``."""
    if family == "VAE":
        return replace(vae_digits.CONFIG, seed=seed)
    module = {
        "spline flow": flow_digits,
        "PixelCNN": autoregressive,
        "diffusion": diffusion,
        "flow matching": flow_matching,
    }[family]
    return replace(module.CONFIG, model_seed=seed)


def _build(family: str, config: object, split: DigitsSplit) -> tuple[nn.Module, dict]:
    if family == "VAE":
        result = vae_digits.train_digits_vae(split.train, split.val, config)
    elif family == "spline flow":
        result = flow_digits.train_digits_flow(config, split.train, split.val)
    elif family == "PixelCNN":
        result = autoregressive.train_digits_model(config, split.train, split.val)
    elif family == "diffusion":
        result = diffusion.train_digits(config, split)
    else:
        result = flow_matching.train_digits(config, split)
    return with_seconds(result)


def _empty(family: str, config: object, split: DigitsSplit) -> nn.Module:
    if family == "VAE":
        return build_vae(config.model)
    if family == "spline flow":
        return flow_digits.build_digits_flow(config, "spline")
    if family == "PixelCNN":
        return autoregressive.build_model(config, config.model, config.model_seed)
    if family == "diffusion":
        return diffusion.build_digits_denoiser(config, split.train)
    return _fm_empty(config)


def trained_model(
    family: str, split: DigitsSplit, held_out: tuple[int, ...], seed: int
) -> Cached:
    """The digits model of the deep family ``family`` (one of :data:`DEEP_FAMILIES`)
    trained by its chapter's recipe, with model seed ``seed``, on ``split`` without the
    classes ``held_out``: from the model cache, or trained and cached when missing."""
    check_split(split)
    if family not in DEEP_FAMILIES:
        raise ValueError(f"family must be one of {DEEP_FAMILIES}, got {family!r}")
    if not _is_int(seed, 0):
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    normal = normal_split(split, held_out)
    config = _seeded(family, seed)
    key = (config, ("held_out", tuple(held_out)))
    name = "anomaly_" + family.replace(" ", "_")
    with torch.random.fork_rng():
        return load_or_build(
            name,
            key,
            lambda: _build(family, config, normal),
            lambda: _empty(family, config, normal),
        )


def warm_cache(split: DigitsSplit, config: AnomalyConfig = CONFIG) -> dict:
    """Every deep model of the chapter, ``{(family, seed): Cached}``, trained (and
    cached) where missing."""
    _check_config(config)
    return {
        (family, seed): trained_model(family, split, config.held_out, seed)
        for seed in config.seeds
        for family in DEEP_FAMILIES
    }


def background_model(
    train: Tensor, config: AnomalyConfig = CONFIG
) -> IndependentPixels:
    """The likelihood ratio's background model: independent pixels fitted to ``train``
    with each pixel replaced, with probability ``config.background_rate``, by a level
    drawn uniformly (generator seed ``config.background_seed``)."""
    _check_config(config)
    if not isinstance(train, Tensor) or train.dim() != 2:
        raise ValueError("train must be an (N, D) tensor of pixel levels")
    g = torch.Generator().manual_seed(config.background_seed)
    flip = torch.rand(train.shape, generator=g) < config.background_rate
    noise = torch.randint(0, LEVELS, train.shape, generator=g).to(train.dtype)
    return IndependentPixels(torch.where(flip, noise, train), LEVELS)


class _Baseline:
    """A baseline density with the deep models' interface for :func:`log_likelihood`."""

    def __init__(self, family: str, log_prob: Callable[[Tensor], Tensor]):
        self.family = family
        self.log_prob = log_prob


def _baseline(family: str, normal: DigitsSplit, seed: int) -> _Baseline:
    if family == "independent pixels":
        model = IndependentPixels(normal.train, LEVELS)
        return _Baseline(family, model.log_prob)
    g = torch.Generator().manual_seed(seed)
    train = dequantize(normal.train.double(), g)
    val = dequantize(normal.val.double(), g)
    if family == "Gaussian mixture":
        density, _ = select_gmm(train, val, GMMConfig(seed=seed))
    else:
        density, _ = select_bandwidth(train, val)
    return _Baseline(family, density.log_prob)


def log_likelihood(
    family: str, model: object, x: Tensor, config: AnomalyConfig = CONFIG
) -> Tensor:
    """The log-likelihood of each image of ``x`` ``(N, 64)`` under ``model`` of
    ``family``, float64 ``(N,)``: exact (independent pixels, PixelCNN), the VAE's
    importance-weighted bound, the diffusion model's ELBO, or the dequantisation bound
    (mixture, KDE, spline flow, flow matching), as in each model's chapter."""
    _check_config(config)
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] != 64 or not len(x):
        raise ValueError("x must be a non-empty (N, 64) tensor of pixel levels")
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(config.score_seed)
        if family in ("independent pixels", "PixelCNN"):
            return torch.cat([model.log_prob(b).double() for b in x.split(512)])
        if family == "VAE":
            return iwae_log_likelihood(model, x, config.vae_k).double()
        if family == "diffusion":
            c = diffusion.CONFIG
            g = torch.Generator().manual_seed(config.score_seed)
            terms = elbo_terms(
                model, x, c.schedule_digits, LEVELS, g, samples=config.elbo_samples
            )
            return -terms["total"].double()
        x = x.double() if family in ("Gaussian mixture", "Gaussian KDE") else x
        n = config.ode_samples if family == "flow matching" else None
        return discrete_log_likelihood(
            model, x, n or config.dequantisation_samples, config.score_seed
        )


@dataclass(frozen=True)
class FamilyScores:
    """One model's log-likelihoods of the normal validation and test digits and of each
    anomaly kind, and the background model's of the same images; ``seconds``: the CPU
    seconds the model's scoring took (for a deep model, when it was computed for the
    cache)."""

    family: str
    seed: int
    val: Tensor
    normal: Tensor
    anomalies: dict[str, Tensor]
    background_normal: Tensor
    background_anomalies: dict[str, Tensor]
    seconds: float

    def score(self, name: str, kind: str | None = None) -> Tensor:
        """The anomaly score ``name`` (one of :data:`SCORES`) of the normal test
        digits (``kind`` None) or of the anomalies of ``kind``."""
        if name not in SCORES:
            raise ValueError(f"name must be one of {SCORES}, got {name!r}")
        if kind is not None and kind not in self.anomalies:
            raise ValueError(
                f"kind must be one of {tuple(self.anomalies)}, got {kind!r}"
            )
        ll = self.normal if kind is None else self.anomalies[kind]
        if name == "nll":
            return -ll
        if name == "typicality":
            return (-ll - float(-self.val.mean())).abs()
        bg = self.background_normal if kind is None else self.background_anomalies[kind]
        return bg - ll

    def metrics(self, name: str, kind: str) -> Detection:
        """AUROC, AUPR and FPR95 of the score ``name`` on the anomalies of ``kind``."""
        return detection_metrics(self.score(name), self.score(name, kind))


class _Stored(nn.Module):
    """Log-likelihoods kept as buffers, so that the model cache can hold them."""

    def __init__(self, sizes: dict[str, int]):
        super().__init__()
        self.names = list(sizes)
        for i, n in enumerate(sizes.values()):
            self.register_buffer(f"ll{i}", torch.zeros(n, dtype=torch.float64))

    def as_dict(self) -> dict[str, Tensor]:
        return {k: getattr(self, f"ll{i}") for i, k in enumerate(self.names)}


def _deep_log_likelihoods(
    family: str,
    split: DigitsSplit,
    seed: int,
    config: AnomalyConfig,
    sets: dict[str, Tensor],
) -> tuple[dict[str, Tensor], float]:
    """The log-likelihoods of ``sets`` under the cached deep model and the CPU seconds
    they took, from the model cache (keyed like the model, plus this chapter's
    configuration), or computed and cached when missing."""
    model = trained_model(family, split, config.held_out, seed).model
    sizes = {k: x.shape[0] for k, x in sets.items()}

    def build() -> tuple[nn.Module, dict]:
        start = time.process_time()
        stored = _Stored(sizes)
        for i, x in enumerate(sets.values()):
            getattr(stored, f"ll{i}").copy_(log_likelihood(family, model, x, config))
        return stored, {"cpu_seconds": time.process_time() - start}

    key = (_seeded(family, seed), config, "log-likelihoods")
    name = "anomaly_scores_" + family.replace(" ", "_")
    with torch.random.fork_rng():
        cached = load_or_build(name, key, build, lambda: _Stored(sizes))
    lls = {k: v.clone() for k, v in cached.model.as_dict().items()}
    return lls, cached.record["cpu_seconds"]


def score_family(
    family: str, split: DigitsSplit, seed: int, config: AnomalyConfig = CONFIG
) -> FamilyScores:
    """``family`` (one of :data:`FAMILIES`) trained without ``config.held_out`` with
    seed ``seed``, scoring the normal validation and test digits and
    :func:`anomaly_sets`. The deep models and their log-likelihoods come from the
    model cache (computed and cached when missing: an ODE or 64 passes per image make
    them the slow part); the baselines are fitted and scored here."""
    check_split(split)
    _check_config(config)
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    normal = normal_split(split, config.held_out)
    sets = anomaly_sets(split, config)
    everything = {"val": normal.val, "test": normal.test, **sets}
    background = background_model(normal.train, config)
    if family in DEEP_FAMILIES:
        lls, seconds = _deep_log_likelihoods(family, split, seed, config, everything)
    else:
        model = _baseline(family, normal, seed)
        start = time.process_time()
        lls = {k: log_likelihood(family, model, x, config) for k, x in everything.items()}
        seconds = time.process_time() - start
    return FamilyScores(
        family=family,
        seed=seed,
        val=lls.pop("val"),
        normal=lls.pop("test"),
        anomalies=lls,
        background_normal=background.log_prob(normal.test).double(),
        background_anomalies={
            k: background.log_prob(x).double() for k, x in sets.items()
        },
        seconds=seconds,
    )


def detection_table(scores: list[FamilyScores], name: str = "nll") -> dict:
    """``{(family, kind): {"auroc": (mean, se), "aupr": ..., "fpr95": ...}}`` of the
    score ``name`` over the seeds in ``scores`` (standard error over seeds; 0 with
    one seed)."""
    if not scores or not all(isinstance(s, FamilyScores) for s in scores):
        raise ValueError("scores must be a non-empty list of FamilyScores")
    groups: dict[tuple[str, str], list[Detection]] = {}
    for s in scores:
        for kind in s.anomalies:
            groups.setdefault((s.family, kind), []).append(s.metrics(name, kind))
    table = {}
    for key, runs in groups.items():
        row = {}
        for field in ("auroc", "aupr", "fpr95"):
            v = torch.tensor([getattr(r, field) for r in runs], dtype=torch.float64)
            se = float(v.std() / len(v) ** 0.5) if len(v) > 1 else 0.0
            row[field] = (float(v.mean()), se)
        table[key] = row
    return table


if __name__ == "__main__":  # ``python -m tutorial_lib.chapters.anomaly``
    from ..data import load_digits_split
    from ..utils import setup

    setup(0)
    digits = load_digits_split()
    for (family, seed), cached in warm_cache(digits).items():
        state = "cached" if cached.hit else "trained"
        scored = score_family(family, digits, seed)
        print(
            f"anomaly, {family}, seed {seed}: {state} "
            f"({cached.record['seconds']:.1f} s); scores {scored.seconds:.1f} CPU s"
        )
