r"""The change-of-variables chapter: its configuration and the checks that the notebook
and the tests both run.

The chapter checks the formula three ways: the pushforward of :math:`\mathcal N(0, 1)`
through :math:`\exp` against a histogram (:func:`lognormal_histogram`), every layer type
of :mod:`tutorial_lib.flows` against autograd (:func:`example_layers`,
:func:`check_layer`), and a flow's density against the midpoint rule
(:func:`midpoint_mass`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import Normal

from ..flows import (
    ActNorm,
    AffineCoupling,
    FlowConfig,
    LogitTransform,
    MaskedAutoregressive,
    Permutation,
    SplineCoupling,
    Transform,
)

__all__ = [
    "ChangeOfVariablesConfig",
    "CONFIG",
    "lognormal_density",
    "HistogramCheck",
    "lognormal_histogram",
    "example_layers",
    "perturb",
    "check_layer",
    "midpoint_mass",
]


@dataclass(frozen=True)
class ChangeOfVariablesConfig:
    """The chapter's one configuration.

    ``n_samples`` draws of :math:`X \\sim \\mathcal N(0, 1)` are pushed through
    :math:`\\exp` and binned into ``bins`` bins on ``hist_range``. The layer checks use
    layers on ``dim`` features (conditioners of ``hidden`` units, splines on
    ``[-bound, bound]``) whose parameters are moved by ``perturb`` standard deviations,
    at ``n_points`` points. The flow ``flow``, its parameters moved by
    ``flow_perturb``, is integrated over ``[-side, side]^2`` with
    ``cells`` midpoint cells per axis.
    """

    n_samples: int = 200_000
    hist_range: tuple[float, float] = (0.05, 5.0)
    bins: int = 99
    dim: int = 4
    hidden: int = 32
    bound: float = 3.0
    perturb: float = 0.2
    n_points: int = 32
    flow: FlowConfig = FlowConfig("spline", layers=4, hidden=32, bins=8, bound=3.0)
    flow_perturb: float = 0.1
    side: float = 8.0
    cells: int = 500

    def __post_init__(self) -> None:
        for name in ("n_samples", "bins", "hidden", "n_points", "cells"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        lo, hi = self.hist_range
        if not 0 < lo < hi:
            raise ValueError(
                f"hist_range must satisfy 0 < low < high, got {self.hist_range}"
            )
        if not isinstance(self.dim, int) or self.dim < 4 or self.dim % 2:
            raise ValueError(f"dim must be an even int >= 4, got {self.dim!r}")
        for name in ("bound", "perturb", "flow_perturb", "side"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not isinstance(self.flow, FlowConfig):
            raise ValueError(f"flow must be a FlowConfig, got {self.flow!r}")


#: The chapter's configuration.
CONFIG = ChangeOfVariablesConfig()


def lognormal_density(y: Tensor) -> Tensor:
    r""":math:`p_Y(y) = p_X(\log y) / y` for :math:`Y = e^X`,
    :math:`X \sim \mathcal N(0, 1)` (the change of variables with
    :math:`g = \exp: \mathbb R \to (0, \infty)`), at ``y > 0``."""
    if not bool((y > 0).all()):
        raise ValueError("y must be > 0: exp maps the real line onto (0, inf)")
    return Normal(0.0, 1.0).log_prob(torch.log(y)).exp() / y


@dataclass(frozen=True)
class HistogramCheck:
    """A histogram of samples of :math:`Y = e^X` against the formula: bin ``centres``,
    the empirical densities ``hist``, the formula averaged over each bin (``exact``,
    Simpson's rule) and each bin's binomial standard error ``se``."""

    centres: Tensor
    width: float
    hist: Tensor
    exact: Tensor
    se: Tensor

    def __post_init__(self) -> None:
        for name in ("hist", "exact", "se"):
            if getattr(self, name).shape != self.centres.shape:
                raise ValueError(f"{name} must have the shape of centres")

    @property
    def z_scores(self) -> Tensor:
        """``|hist - exact| / se`` per bin."""
        return ((self.hist - self.exact) / self.se).abs()


def lognormal_histogram(
    config: ChangeOfVariablesConfig, generator: torch.Generator
) -> HistogramCheck:
    """Draw ``config.n_samples`` values of :math:`X` with ``generator`` (float64), bin
    :math:`e^X` and compare with :func:`lognormal_density`."""
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {generator!r}")
    n = config.n_samples
    y = torch.exp(torch.randn(n, generator=generator, dtype=torch.float64))
    lo, hi = config.hist_range
    edges = torch.linspace(lo, hi, config.bins + 1, dtype=torch.float64)
    counts = torch.histc(y, bins=config.bins, min=lo, max=hi)
    width = (edges[1] - edges[0]).item()
    centres = (edges[:-1] + edges[1:]) / 2
    f = lognormal_density
    exact = (f(edges[:-1]) + 4 * f(centres) + f(edges[1:])) / 6  # Simpson per bin
    se = (exact / (n * width)).sqrt()  # binomial, for a small bin probability
    return HistogramCheck(centres, width, counts / (n * width), exact, se)


def perturb(module: torch.nn.Module, scale: float, generator: torch.Generator):
    """Add ``scale`` times standard normal noise (drawn with ``generator``) to every
    parameter of ``module``, in place, to move it away from its identity
    initialisation; returns ``module``."""
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    return module


def example_layers(config: ChangeOfVariablesConfig) -> dict[str, Transform]:
    """One layer of every type of :mod:`tutorial_lib.flows`, on ``config.dim``
    features, by a descriptive name (float32, at their initialisation)."""
    if not isinstance(config, ChangeOfVariablesConfig):
        raise ValueError(f"config must be a ChangeOfVariablesConfig, got {config!r}")
    d, h, b = config.dim, config.hidden, config.bound
    mask = torch.arange(d) % 2 == 0
    perm = torch.arange(d).flip(0)
    return {
        "affine coupling (RealNVP)": AffineCoupling(d, mask, hidden=h),
        "spline coupling (NSF)": SplineCoupling(d, mask, hidden=h, bins=8, bound=b),
        "masked affine autoregressive (MAF)": MaskedAutoregressive(d, h, kind="affine"),
        "masked spline autoregressive": MaskedAutoregressive(
            d, h, kind="spline", reverse=True, bound=b
        ),
        "ActNorm": ActNorm(d),
        "permutation": Permutation(perm),
        "logit preprocessing": LogitTransform(d, levels=17),
    }


def check_layer(layer: Transform, x: Tensor) -> tuple[float, float, float]:
    """``(inversion error, log-det error, largest |log-det|)`` of ``layer`` at the
    rows of ``x``: :math:`\\max |f^{-1}(f(x)) - x|` and the largest difference between
    the layer's log-determinant and ``slogdet`` of the autograd Jacobian."""
    if x.dim() != 2 or x.shape[1] != layer.dim:
        raise ValueError(f"x must have shape (N, {layer.dim}), got {tuple(x.shape)}")
    z, logdet = layer(x)
    inv_err = (layer.inverse(z) - x).abs().max().item()

    def one(v: Tensor) -> Tensor:
        return layer(v[None])[0][0]

    jac = torch.stack([torch.autograd.functional.jacobian(one, xi) for xi in x])
    ld_err = (torch.linalg.slogdet(jac).logabsdet - logdet).abs().max().item()
    return inv_err, ld_err, logdet.abs().max().item()


@torch.no_grad()
def midpoint_mass(
    log_prob: Callable[[Tensor], Tensor], side: float, cells: int
) -> tuple[float, Tensor]:
    """The midpoint rule for :math:`\\int \\exp(\\mathrm{log\\_prob})` over
    :math:`[-\\text{side}, \\text{side}]^2` with ``cells`` cells per axis (float64
    points); returns the integral and the density on the grid, ``(cells, cells)``
    indexed ``[i, j]`` for ``(x_1, x_2) = (g_i, g_j)``."""
    if not side > 0:
        raise ValueError(f"side must be > 0, got {side}")
    if not isinstance(cells, int) or cells < 1:
        raise ValueError(f"cells must be an int >= 1, got {cells!r}")
    h = 2 * side / cells
    g = -side + h * (torch.arange(cells, dtype=torch.float64) + 0.5)
    grid = torch.cartesian_prod(g, g)
    dens = torch.cat([log_prob(b).exp() for b in grid.split(40_000)])
    dens = dens.reshape(cells, cells)
    return dens.sum().item() * h * h, dens
