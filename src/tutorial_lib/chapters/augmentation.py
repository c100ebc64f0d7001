r"""The applications chapter, part two: data augmentation with a class-conditional
generative model.

A classifier (the side-by-side chapter's linear probe on raw pixels: a standardised
logistic regression) learns the digits from ``labels_per_class`` labelled training
images per class, drawn at random (seed: one of ``seeds``), and is scored on the whole
test split. It is trained once on the labelled images alone and once per generative
model with ``samples_per_class`` extra images per class drawn from a class-conditional
model :math:`p(x \mid y)`, labelled with the class they were drawn for.

Each class-conditional model is one Gaussian per class fitted to that class's labelled
images in a *representation*: the pixels themselves, the latent space of the VAE
chapter's digits model (the posterior means; samples decoded to the expected pixel
values), or the latent space of the flow chapter's spline flow (the flow's image of the
bin centres; samples mapped back and floored to levels). The VAE and the flow were
trained on all the training images without their labels (the model cache's digits
models), so their latent spaces bring what the unlabelled images taught them; the pixel
Gaussian knows only the labelled images. Covariances are the sample covariance plus
``ridge`` times the identity (ten points do not determine a 64-dimensional covariance).

The samples are also checked against their intended labels by the GAN chapter's digit
classifier (trained on all the training labels; a diagnostic, never used for training).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..data.digits import LEVELS, DigitsSplit, check_split
from ..metrics.digit_features import DigitClassifier
from . import side_by_side

__all__ = [
    "AugmentationConfig",
    "CONFIG",
    "SOURCES",
    "labelled_subset",
    "class_gaussian_samples",
    "representations",
    "AugmentationRun",
    "run_augmentation",
    "summarise",
]

#: The rows of the experiment: no extra images, then each representation.
SOURCES: tuple[str, ...] = ("none", "pixels", "VAE latent", "flow latent")


def _is_int(value: object, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


@dataclass(frozen=True)
class AugmentationConfig:
    """``labels_per_class`` labelled training images per class (drawn with each seed of
    ``seeds``); ``samples_per_class`` generated images per class; ``ridge`` added to
    every diagonal of the class covariances; the probe runs ``max_iter`` iterations."""

    labels_per_class: int = 10
    seeds: tuple[int, ...] = tuple(range(10))
    samples_per_class: int = 50
    ridge: float = 1e-2
    max_iter: int = 2000

    def __post_init__(self) -> None:
        for name, low in (
            ("labels_per_class", 2),
            ("samples_per_class", 1),
            ("max_iter", 1),
        ):
            if not _is_int(value := getattr(self, name), low):
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        seeds = self.seeds
        if (
            not isinstance(seeds, tuple)
            or len(seeds) < 2
            or len(set(seeds)) != len(seeds)
            or not all(_is_int(s, 0) for s in seeds)
        ):
            raise ValueError(
                f"seeds must be a tuple of at least 2 distinct non-negative ints, "
                f"got {seeds!r}"
            )
        r = self.ridge
        if not isinstance(r, (int, float)) or isinstance(r, bool) or not r > 0:
            raise ValueError(f"ridge must be a positive number, got {r!r}")


#: The chapter's configuration.
CONFIG = AugmentationConfig()


def _check(split: object, config: object) -> None:
    check_split(split)
    if not isinstance(config, AugmentationConfig):
        raise ValueError(f"config must be an AugmentationConfig, got {config!r}")


def labelled_subset(
    split: DigitsSplit, seed: int, config: AugmentationConfig = CONFIG
) -> tuple[Tensor, Tensor]:
    """``config.labels_per_class`` training images of each class drawn without
    replacement (generator seed ``seed``): ``(images (10 n, 64), labels (10 n,))``."""
    _check(split, config)
    if not _is_int(seed, 0):
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    g = torch.Generator().manual_seed(seed)
    idx = []
    for c in range(10):
        pool = (split.train_labels == c).nonzero().squeeze(1)
        if len(pool) < config.labels_per_class:
            raise ValueError(f"class {c} has only {len(pool)} training images")
        idx.append(
            pool[torch.randperm(len(pool), generator=g)[: config.labels_per_class]]
        )
    idx = torch.cat(idx)
    return split.train[idx], split.train_labels[idx]


def class_gaussian_samples(
    codes: Tensor, labels: Tensor, n: int, ridge: float, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """``n`` draws per class from a Gaussian fitted to each class's rows of ``codes``
    ``(N, d)`` (mean and sample covariance plus ``ridge`` times the identity), in the
    order of the classes present: ``(samples (n k, d), labels (n k,))``."""
    if not isinstance(codes, Tensor) or codes.dim() != 2:
        raise ValueError("codes must be an (N, d) tensor")
    if not isinstance(labels, Tensor) or labels.shape != codes.shape[:1]:
        raise ValueError(f"labels must have shape ({codes.shape[0]},)")
    if not _is_int(n, 1):
        raise ValueError(f"n must be a positive int, got {n!r}")
    out, ys = [], []
    eye = torch.eye(codes.shape[1], dtype=torch.float64)
    for c in labels.unique().tolist():
        z = codes[labels == c].double()
        if len(z) < 2:
            raise ValueError(f"class {c} needs at least 2 rows of codes")
        chol = torch.linalg.cholesky(torch.cov(z.T) + ridge * eye)
        eps = torch.randn(n, z.shape[1], generator=generator, dtype=torch.float64)
        out.append(z.mean(0) + eps @ chol.T)
        ys.append(torch.full((n,), c, dtype=labels.dtype))
    return torch.cat(out).to(codes.dtype), torch.cat(ys)


@dataclass(frozen=True)
class AugmentationRun:
    """Test accuracy of the classifier for each source of :data:`SOURCES` with one
    labelled subset (``seed``), and the fraction of each generative source's samples
    that the digit classifier assigns to their intended class."""

    seed: int
    accuracy: dict[str, float]
    agreement: dict[str, float]


def representations(split: DigitsSplit) -> dict:
    """The representations of :data:`SOURCES` after ``"none"``, each an ``(encode,
    decode)`` pair between pixel levels ``(N, 64)`` and codes; the VAE and the flow are
    the side-by-side chapter's (from the model cache, trained where missing)."""
    check_split(split)
    vae = side_by_side.trained_model("VAE", split).model
    flow = side_by_side.trained_model("spline flow", split).model
    top = LEVELS - 1
    return {
        "pixels": (lambda x: x, lambda z: z.clamp(0, top)),
        "VAE latent": (
            lambda x: vae.posterior(x).mean,
            lambda z: vae.decode(z, mean=True).float(),
        ),
        "flow latent": (
            lambda x: flow(x + 0.5)[0],
            lambda z: flow.inverse(z).floor().clamp(0, top),
        ),
    }


def run_augmentation(
    split: DigitsSplit,
    classifier: DigitClassifier,
    config: AugmentationConfig = CONFIG,
) -> list[AugmentationRun]:
    """One :class:`AugmentationRun` per seed of ``config.seeds`` (the VAE and the flow
    come from the model cache, trained where missing)."""
    _check(split, config)
    if not isinstance(classifier, DigitClassifier):
        raise ValueError(f"classifier must be a DigitClassifier, got {classifier!r}")
    classifier.eval()
    sources = representations(split)
    runs = []
    for seed in config.seeds:
        x, y = labelled_subset(split, seed, config)
        g = torch.Generator().manual_seed(seed)
        accuracy, agreement = {}, {}
        for name in SOURCES:
            if name == "none":
                xa, ya = x, y
            else:
                encode, decode = sources[name]
                with torch.no_grad():
                    z, yz = class_gaussian_samples(
                        encode(x), y, config.samples_per_class, config.ridge, g
                    )
                    fake = decode(z)
                    pred = classifier(fake.float()).argmax(1)
                agreement[name] = float((pred == yz).double().mean())
                xa, ya = torch.cat([x, fake]), torch.cat([y, yz])
            accuracy[name] = side_by_side.linear_probe(
                xa, ya, split.test, split.test_labels, config.max_iter
            )
        runs.append(AugmentationRun(seed, accuracy, agreement))
    return runs


def summarise(runs: list[AugmentationRun]) -> dict[str, dict[str, float]]:
    """Per source: mean accuracy and its standard error over the runs, the mean paired
    difference from ``"none"`` and its standard error, and the mean agreement (NaN for
    ``"none"``)."""
    if len(runs) < 2 or not all(isinstance(r, AugmentationRun) for r in runs):
        raise ValueError("runs must be a list of at least 2 AugmentationRun")
    out = {}
    base = torch.tensor([r.accuracy["none"] for r in runs], dtype=torch.float64)
    root = math.sqrt(len(runs))
    for name in runs[0].accuracy:
        acc = torch.tensor([r.accuracy[name] for r in runs], dtype=torch.float64)
        diff = acc - base
        agree = [r.agreement[name] for r in runs if name in r.agreement]
        out[name] = {
            "accuracy": float(acc.mean()),
            "accuracy_se": float(acc.std() / root),
            "difference": float(diff.mean()),
            "difference_se": float(diff.std() / root),
            "agreement": float(sum(agree) / len(agree)) if agree else math.nan,
        }
    return out
