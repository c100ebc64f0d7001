r"""The 2-D flows chapter: its configuration and the recipes that the notebook, the
``flows2d`` benchmark and the tests all call.

Three flows (RealNVP, MAF, spline couplings) are trained by maximum likelihood on 2-D
densities whose log-density is known, and each is scored by its *gap*, the test NLL
minus the true entropy :math:`H(p)`, an estimate of
:math:`\mathrm{KL}(p\,\|\,q_\theta)`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from types import MappingProxyType

import torch
from torch import Tensor

from ..data import check_density_names, get_density
from ..data.density import Density2D
from ..flows import Flow, FlowConfig, build_flow, nll_loss
from ..train import History, TrainConfig, fit

__all__ = [
    "Flows2DConfig",
    "CONFIG",
    "TestSet",
    "make_test_set",
    "train_flow",
    "gap",
    "off_mode_fraction",
    "off_mode_mass",
    "circle_log_density",
]


@dataclass(frozen=True)
class Flows2DConfig:
    """The chapter's one configuration.

    ``datasets`` are names of :func:`~tutorial_lib.data.get_density`; the three models
    ``realnvp``, ``maf`` and ``spline`` are trained with ``train`` (fresh batches drawn
    from the density, parameters initialised after ``torch.manual_seed(model_seed)``);
    each dataset's test set has ``n_test`` points drawn with seed ``test_seed + i``
    (``i`` its position in ``datasets``). ``long_steps`` is the budget of the
    benchmark's extra, longer run (the chapter's own run is ``train.steps``).
    """

    datasets: tuple[str, ...] = ("8gaussians", "moons", "checkerboard", "2spirals")
    realnvp: FlowConfig = FlowConfig("realnvp", layers=8, hidden=64, depth=2)
    maf: FlowConfig = FlowConfig("maf", layers=8, hidden=64, depth=2)
    spline: FlowConfig = FlowConfig(
        "spline", layers=4, hidden=64, depth=2, bins=16, bound=4.0
    )
    train: TrainConfig = TrainConfig(
        steps=600, batch_size=512, lr=2e-3, cosine=True, progress=False, desc="flows2d"
    )
    n_test: int = 5_000
    test_seed: int = 200
    model_seed: int = 0
    long_steps: int = 3_000

    def __post_init__(self) -> None:
        check_density_names(self.datasets)
        for field in ("realnvp", "maf", "spline"):
            value = getattr(self, field)
            if not isinstance(value, FlowConfig) or value.kind != field:
                raise ValueError(
                    f"{field} must be a FlowConfig of kind {field!r}, got {value!r}"
                )
        if not isinstance(self.train, TrainConfig):
            raise ValueError(f"train must be a TrainConfig, got {self.train!r}")
        if self.n_test < 2:
            raise ValueError(f"n_test must be >= 2, got {self.n_test}")
        if self.test_seed < 0 or self.model_seed < 0:
            raise ValueError(
                "test_seed and model_seed must be >= 0, "
                f"got {self.test_seed}, {self.model_seed}"
            )
        if self.long_steps < 1:
            raise ValueError(f"long_steps must be >= 1, got {self.long_steps}")

    @property
    def models(self) -> MappingProxyType:
        """The three architectures by name (a read-only mapping)."""
        return MappingProxyType(
            {"realnvp": self.realnvp, "maf": self.maf, "spline": self.spline}
        )


#: The configuration of the chapter and of the ``flows2d`` benchmark's main rows.
CONFIG = Flows2DConfig()


@dataclass(frozen=True)
class TestSet:
    """Test points ``x`` ``(n, 2)`` of ``density`` and their exact ``log_p``
    ``(n,)``."""

    density: Density2D
    x: Tensor
    log_p: Tensor

    def __post_init__(self) -> None:
        if not isinstance(self.x, Tensor) or self.x.dim() != 2 or self.x.shape[1] != 2:
            raise ValueError(
                f"x must be an (n, 2) tensor, got {getattr(self.x, 'shape', self.x)}"
            )
        if not isinstance(self.log_p, Tensor) or self.log_p.shape != self.x.shape[:1]:
            raise ValueError(
                f"log_p must have one value per row of x, shape ({len(self.x)},)"
            )

    @property
    def entropy(self) -> tuple[float, float]:
        r"""``(H(p), standard error)``: :math:`-\frac1n \sum_i \log p(x_i)` on these
        points."""
        return -self.log_p.mean().item(), self.log_p.std().item() / math.sqrt(
            len(self.log_p)
        )


def _check_dataset(config: Flows2DConfig, dataset: str) -> int:
    if dataset not in config.datasets:
        raise ValueError(f"dataset must be one of {config.datasets}, got {dataset!r}")
    return config.datasets.index(dataset)


def make_test_set(config: Flows2DConfig, dataset: str) -> TestSet:
    """The test set of ``dataset``: ``config.n_test`` points, seed ``test_seed + i``."""
    i = _check_dataset(config, dataset)
    density = get_density(dataset)
    x = density.sample(
        config.n_test, torch.Generator().manual_seed(config.test_seed + i)
    )
    return TestSet(density, x, density.log_prob(x).double())


def train_flow(
    config: Flows2DConfig,
    dataset: str,
    model: str,
    *,
    steps: int | None = None,
    device: torch.device | str | None = None,
) -> tuple[Flow, History]:
    """Train model ``model`` (a key of ``config.models``) on ``dataset`` by maximum
    likelihood with ``config.train`` (``steps`` overrides its step count; the cosine
    schedule follows it). Returns the flow, on the CPU in eval mode, and its history."""
    _check_dataset(config, dataset)
    if model not in config.models:
        raise ValueError(f"model must be one of {tuple(config.models)}, got {model!r}")
    train = (
        config.train
        if steps is None
        else dataclasses.replace(config.train, steps=steps)
    )
    density = get_density(dataset)
    torch.manual_seed(config.model_seed)
    flow = build_flow(config.models[model], 2)
    history = fit(
        flow, nll_loss, lambda n, g: density.sample(n, g), train, device=device
    )
    return flow.cpu().eval(), history


@torch.no_grad()
def gap(log_prob, test: TestSet, batch_size: int = 20_000) -> tuple[float, float]:
    r"""``(gap, standard error)``: the mean of :math:`\log p(x_i) - \log q(x_i)` over
    the test points (test NLL minus the entropy estimated on the same points), whose
    standard error is far below either term's because the two log-densities are
    correlated. ``log_prob`` maps ``(N, 2)`` points to ``(N,)`` log-densities (a flow's
    ``log_prob``)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    log_q = torch.cat([log_prob(b).double().cpu() for b in test.x.split(batch_size)])
    diff = test.log_p - log_q
    return diff.mean().item(), diff.std().item() / math.sqrt(len(diff))


def _check_mixture(density: Density2D) -> None:
    if not hasattr(density, "means") or not hasattr(density, "std"):
        raise ValueError(f"density must be a Gaussian mixture, got {density!r}")


def off_mode_fraction(points: Tensor, density: Density2D, k: float = 3.0) -> float:
    """Fraction of ``points`` farther than ``k`` standard deviations from every centre
    of the Gaussian mixture ``density`` (8gaussians)."""
    _check_mixture(density)
    if not k > 0:
        raise ValueError(f"k must be > 0, got {k}")
    if points.dim() != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2), got {tuple(points.shape)}")
    dist = torch.cdist(points.double(), density.means).min(1).values
    return (dist > k * density.std).double().mean().item()


def off_mode_mass(density: Density2D, k: float = 3.0) -> float:
    r"""The mass that an equal-weight mixture of isotropic Gaussians puts farther than
    ``k`` standard deviations from every centre, exactly.

    A point of component :math:`j` lies beyond :math:`k\sigma` of its own centre with
    probability :math:`e^{-k^2/2}` (a Rayleigh tail); it lies within :math:`k\sigma` of
    centre :math:`i` with probability :math:`F_{\chi'^2_2(\lambda)}(k^2)`, the
    non-central chi-square CDF with :math:`\lambda = |\mu_i - \mu_j|^2/\sigma^2`. When
    every two centres are more than :math:`2k\sigma` apart these discs are disjoint, so
    the mass is

    .. math::
        e^{-k^2/2} - \frac1K \sum_j \sum_{i \ne j} F_{\chi'^2_2(\lambda_{ij})}(k^2) .
    """
    from scipy.stats import ncx2

    _check_mixture(density)
    if not k > 0:
        raise ValueError(f"k must be > 0, got {k}")
    means, std = density.means, density.std
    d2 = torch.cdist(means, means).pow(2) / std**2  # (K, K), in units of sigma^2
    off = ~torch.eye(len(means), dtype=torch.bool)
    if bool((d2[off] <= (2 * k) ** 2).any()):
        raise ValueError(
            f"k={k}: the discs of radius k sigma overlap; the formula needs 2k sigma"
        )
    inside_other = ncx2.cdf(k**2, 2, d2[off].numpy()).sum() / len(means)
    return math.exp(-(k**2) / 2) - float(inside_other)


def circle_log_density(
    log_prob, density: Density2D, n: int = 721
) -> tuple[Tensor, Tensor]:
    """``(angle, log-density)`` at ``n`` angles on the circle through the centres of the
    mixture ``density`` (radius: the centres' mean distance from the origin)."""
    _check_mixture(density)
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    angle = torch.linspace(0, 2 * math.pi, n, dtype=torch.float64)
    radius = density.means.norm(dim=1).mean()
    ring = torch.stack([radius * angle.cos(), radius * angle.sin()], 1)
    with torch.no_grad():
        return angle, log_prob(ring.float()).double().cpu()
