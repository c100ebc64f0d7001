r"""The "why generative models" chapter: its configuration and recipes.

The chapter fits a Gaussian mixture by EM to samples of the ``pinwheel`` density
(:func:`make_samples`, :func:`fit_mixture`), uses it to sample, to evaluate densities
and to flag anomalies by a density threshold (:func:`detection_rates`), and shows that
a kernel density estimate with a tiny bandwidth memorises its training points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import MixtureSameFamily

from ..baselines import GMMConfig, Selection, select_gmm
from ..data import DENSITY_NAMES, get_density

__all__ = [
    "WhyGenerativeConfig",
    "CONFIG",
    "WhySamples",
    "make_samples",
    "fit_mixture",
    "detection_rates",
]


@dataclass(frozen=True)
class WhyGenerativeConfig:
    """The chapter's settings: ``n_train``, ``n_val`` (to choose the number of
    components among ``gmm.components``), ``n_test`` and ``n_calib`` (to set the
    anomaly threshold) points of ``dataset``; ``n_outliers`` points uniform over the
    density's plotting box; the nominal false-alarm rate ``false_alarm``; the tiny
    bandwidth of the memorising KDE of the exercise; ``seed`` for every draw."""

    dataset: str = "pinwheel"
    n_train: int = 2_000
    n_val: int = 1_000
    n_test: int = 5_000
    n_calib: int = 5_000
    n_outliers: int = 5_000
    gmm: GMMConfig = GMMConfig(components=(1, 2, 4, 8, 16, 32))
    false_alarm: float = 0.01
    tiny_bandwidth: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.dataset not in DENSITY_NAMES:
            raise ValueError(
                f"dataset must be one of {DENSITY_NAMES}, got {self.dataset!r}"
            )
        for name in ("n_train", "n_val", "n_test", "n_calib", "n_outliers"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if not isinstance(self.gmm, GMMConfig):
            raise ValueError(f"gmm must be a GMMConfig, got {type(self.gmm).__name__}")
        if not 0 < self.false_alarm < 1:
            raise ValueError(f"false_alarm must be in (0, 1), got {self.false_alarm!r}")
        if not self.tiny_bandwidth > 0:
            raise ValueError(f"tiny_bandwidth must be > 0, got {self.tiny_bandwidth!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")


#: The configuration the chapter runs.
CONFIG = WhyGenerativeConfig()


@dataclass(frozen=True)
class WhySamples:
    """The chapter's points, each ``(n, 2)``: training, validation, test and
    calibration samples of the density, and outliers uniform over its box."""

    train: Tensor
    val: Tensor
    test: Tensor
    calib: Tensor
    outliers: Tensor

    def __post_init__(self) -> None:
        for name in ("train", "val", "test", "calib", "outliers"):
            x = getattr(self, name)
            if (
                not isinstance(x, Tensor)
                or x.ndim != 2
                or x.shape[1] != 2
                or not len(x)
            ):
                shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
                raise ValueError(
                    f"{name} must be a non-empty (n, 2) tensor, got {shape}"
                )


def make_samples(
    config: WhyGenerativeConfig = CONFIG, device: torch.device | str = "cpu"
) -> WhySamples:
    """Draw the chapter's samples, in this order, with one generator seeded by
    ``config.seed``, and move them to ``device``."""
    if not isinstance(config, WhyGenerativeConfig):
        raise ValueError(
            f"config must be a WhyGenerativeConfig, got {type(config).__name__}"
        )
    density = get_density(config.dataset)
    g = torch.Generator().manual_seed(config.seed)
    sizes = (config.n_train, config.n_val, config.n_test, config.n_calib)
    train, val, test, calib = (density.sample(n, g) for n in sizes)
    xmin, xmax, ymin, ymax = density.bounds
    u = torch.rand((config.n_outliers, 2), generator=g)  # uniform over the box
    outliers = u * torch.tensor([xmax - xmin, ymax - ymin]) + torch.tensor([xmin, ymin])
    parts = (train, val, test, calib, outliers)
    return WhySamples(*(x.to(device) for x in parts))


def fit_mixture(
    config: WhyGenerativeConfig, samples: WhySamples
) -> tuple[MixtureSameFamily, Selection]:
    """Fit a Gaussian mixture by EM for each candidate number of components on the
    training points and keep the one with the best validation NLL."""
    if not isinstance(samples, WhySamples):
        raise ValueError(f"samples must be WhySamples, got {type(samples).__name__}")
    if not isinstance(config, WhyGenerativeConfig):
        raise ValueError(
            f"config must be a WhyGenerativeConfig, got {type(config).__name__}"
        )
    return select_gmm(samples.train, samples.val, config.gmm)


@torch.no_grad()
def detection_rates(
    log_prob_fn: Callable[[Tensor], Tensor], samples: WhySamples, false_alarm: float
) -> tuple[float, float]:
    """Flag a point when ``log_prob_fn`` falls below the ``false_alarm`` quantile of the
    calibration points' log-densities. Returns ``(false-alarm rate on the test points,
    detection rate on the outliers)``."""
    if not 0 < false_alarm < 1:
        raise ValueError(f"false_alarm must be in (0, 1), got {false_alarm!r}")
    if not isinstance(samples, WhySamples):
        raise ValueError(f"samples must be WhySamples, got {type(samples).__name__}")
    threshold = torch.quantile(log_prob_fn(samples.calib), false_alarm)
    false_rate = (log_prob_fn(samples.test) < threshold).float().mean().item()
    detected = (log_prob_fn(samples.outliers) < threshold).float().mean().item()
    return false_rate, detected
