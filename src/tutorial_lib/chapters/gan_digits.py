r"""The digits-GAN chapter: its configuration and the recipes that the notebook, the
``gan_digits`` benchmark and the tests all call.

A GAN is trained on the train split of the 8x8 digits (pixels scaled to [-1, 1]) and
scored by the Fréchet distance of its samples to the test split in the feature space of
the book's digit classifier (:func:`~tutorial_lib.metrics.train_classifier`), beside
two references: the train split itself (the floor) and independent pixels
(:class:`~tutorial_lib.baselines.IndependentPixels`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..data.digits import DigitsSplit, check_split, to_pixels, to_unit
from ..gan.networks import ConvDiscriminator, ConvGenerator
from ..gan.training import GANConfig, train_gan
from ..metrics.digit_features import CLASSIFIER_TRAIN, DigitClassifier, train_classifier
from ..metrics.distances import frechet_distance_features
from ..train import History, TrainConfig

__all__ = [
    "MODELS",
    "GANDigitsConfig",
    "CONFIG",
    "digits_classifier",
    "build_digits_gan",
    "train_digits_gan",
    "sample_digits",
    "frechet_to_test",
    "class_counts",
    "run_digits_gan",
]

#: The two GANs: fully connected players (the chapter's model) and convolutional ones
#: with a spectrally normalised discriminator (the comparison).
MODELS = ("mlp", "conv")


@dataclass(frozen=True)
class GANDigitsConfig:
    """The chapter's one configuration.

    ``mlp``: the fully connected GAN (architecture and training, a :class:`GANConfig`
    built for 64 pixels). ``conv``: the training settings of the convolutional GAN,
    whose generator has ``conv.latent_dim`` noise dimensions and ``conv_channels``
    channels, and whose discriminator is spectrally normalised. ``classifier``: the
    training of the feature extractor. Every model is scored on ``n_samples`` samples
    drawn with noise seed ``sample_seed + seed``; the baseline's samples use
    ``baseline_seed``; the benchmark averages over ``seeds``.
    """

    mlp: GANConfig = GANConfig(
        steps=6000,
        batch_size=64,
        latent_dim=16,
        hidden=256,
        layers=2,
        output="tanh",
        r1=5.0,
        r1_every=4,
        lr=1e-3,
        betas=(0.0, 0.99),
        lr_final=0.1,
        decay_fraction=0.5,
    )
    conv: GANConfig = GANConfig(
        steps=1500,
        batch_size=64,
        latent_dim=16,
        lr=5e-4,
        betas=(0.5, 0.999),
        lr_final=0.1,
        decay_fraction=0.3,
    )
    conv_channels: int = 32
    classifier: TrainConfig = CLASSIFIER_TRAIN
    n_samples: int = 1000
    sample_seed: int = 1
    baseline_seed: int = 2
    seeds: tuple[int, ...] = (0, 1, 2)

    def __post_init__(self) -> None:
        for name in ("mlp", "conv"):
            if not isinstance(getattr(self, name), GANConfig):
                raise ValueError(
                    f"{name} must be a GANConfig, got {getattr(self, name)!r}"
                )
        if not isinstance(self.classifier, TrainConfig):
            raise ValueError(
                f"classifier must be a TrainConfig, got {self.classifier!r}"
            )
        for name in ("conv_channels", "n_samples"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.n_samples < 2:
            raise ValueError(
                f"n_samples must be >= 2 (a covariance), got {self.n_samples}"
            )
        for name in ("sample_seed", "baseline_seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.seeds or any(not isinstance(s, int) or s < 0 for s in self.seeds):
            raise ValueError(
                f"seeds must be a non-empty tuple of ints >= 0, got {self.seeds!r}"
            )

    def train(self, model: str) -> GANConfig:
        """The training settings of ``model`` (one of :data:`MODELS`)."""
        return getattr(self, _check_model(model))


#: The configuration of the chapter and of the ``gan_digits`` benchmark.
CONFIG = GANDigitsConfig()


def _check_model(model: str) -> str:
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    return model



def digits_classifier(
    split: DigitsSplit, config: GANDigitsConfig = CONFIG
) -> DigitClassifier:
    """The feature extractor: :func:`~tutorial_lib.metrics.train_classifier` on the
    train split with ``config.classifier`` (selected on the validation split), in eval
    mode."""
    check_split(split)
    clf, _ = train_classifier(
        split.train, split.train_labels, split.val, split.val_labels, config.classifier
    )
    return clf.eval()


def build_digits_gan(
    model: str, config: GANDigitsConfig = CONFIG
) -> tuple[nn.Module, nn.Module]:
    """A fresh generator and discriminator of ``model`` (from torch's global RNG)."""
    if _check_model(model) == "mlp":
        return config.mlp.build(64)
    generator = ConvGenerator(config.conv.latent_dim, config.conv_channels)
    return generator, ConvDiscriminator(config.conv_channels, spectral_norm=True)


def train_digits_gan(
    split: DigitsSplit,
    model: str = "mlp",
    seed: int = 0,
    config: GANDigitsConfig = CONFIG,
    *,
    callback: Callable[[nn.Module, int], None] | None = None,
    callback_every: int = 0,
    progress: bool = True,
) -> tuple[nn.Module, History]:
    """Train ``model`` on the train split (pixels scaled to [-1, 1]): players
    initialised after ``torch.manual_seed(seed)``, batches drawn with ``seed``.
    ``callback(generator, step)`` runs every ``callback_every`` steps. Returns the
    generator (eval mode, CPU) and the history."""
    check_split(split)
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    train = config.train(model)
    data = to_unit(split.train)  # (1000, 64) in [-1, 1]

    def sample_real(n: int, rng: torch.Generator) -> Tensor:
        return data[torch.randint(len(data), (n,), generator=rng)]

    torch.manual_seed(seed)
    g, d = build_digits_gan(model, config)
    hook = None if callback is None else (lambda step: callback(g, step))
    history = train_gan(
        g,
        d,
        sample_real,
        train,
        seed=seed,
        callback=hook,
        callback_every=callback_every,
        progress=progress,
        desc=f"{model} GAN on digits",
    )
    return g.cpu().eval(), history


@torch.no_grad()
def sample_digits(generator: nn.Module, n: int, seed: int) -> Tensor:
    """``n`` images of ``generator`` (noise seed ``seed``) as pixel values clipped to
    [0, 16], shape ``(n, 64)``, on the CPU."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    generator.eval()
    x = generator.sample(n, torch.Generator().manual_seed(seed)).cpu()  # (n, 64)
    return to_pixels(x).clamp(0.0, 16.0)


@torch.no_grad()
def frechet_to_test(
    classifier: DigitClassifier, pixels: Tensor, split: DigitsSplit
) -> float:
    """The Fréchet distance (the squared 2-Wasserstein distance between the fitted
    Gaussians) from ``pixels`` ``(N, 64)`` to the test split, in ``classifier``'s
    features."""
    check_split(split)
    if pixels.dim() != 2 or pixels.shape[1] != 64:
        raise ValueError(f"pixels must have shape (N, 64), got {tuple(pixels.shape)}")
    classifier.eval()
    f = classifier.features(pixels.float()).double()
    return frechet_distance_features(f, classifier.features(split.test).double())


@torch.no_grad()
def class_counts(classifier: DigitClassifier, pixels: Tensor) -> Tensor:
    """How many of ``pixels`` ``(N, 64)`` ``classifier`` assigns to each digit,
    ``(10,)``."""
    if pixels.dim() != 2 or pixels.shape[1] != 64:
        raise ValueError(f"pixels must have shape (N, 64), got {tuple(pixels.shape)}")
    classifier.eval()
    return torch.bincount(classifier(pixels.float()).argmax(1), minlength=10)


def run_digits_gan(
    split: DigitsSplit,
    classifier: DigitClassifier,
    model: str = "mlp",
    seed: int = 0,
    config: GANDigitsConfig = CONFIG,
) -> tuple[float, Tensor, float]:
    """Train (:func:`train_digits_gan`) and score one run: the Fréchet distance of
    ``config.n_samples`` samples to the test split, their class counts and the
    training's CPU seconds in this process."""
    start = time.process_time()
    g, _ = train_digits_gan(split, model, seed, config, progress=False)
    seconds = time.process_time() - start
    x = sample_digits(g, config.n_samples, config.sample_seed + seed)
    return frechet_to_test(classifier, x, split), class_counts(classifier, x), seconds
