r"""The base class of the book's 2-D densities and what they share.

:class:`Density2D` fixes the interface: ``sample(n, generator)`` and an exact
``log_prob`` computed in float64. :class:`GaussianMixture2D` is the equal-weight
isotropic mixture behind ``8gaussians``, ``ring`` and ``grid``; :func:`gauss_legendre`
gives the composite Gauss-Legendre rule that the densities without a closed form
integrate with.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

__all__ = ["Density2D", "GaussianMixture2D", "gauss_legendre"]

LOG2PI = math.log(2 * math.pi)


def _check_n(n: int) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    return n


def _check_points(x: Tensor) -> Tensor:
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != 2:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"x must be a tensor of shape (N, 2), got {shape}")
    return x.to(torch.float64)


def _randn(shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
    return torch.randn(shape, generator=generator, dtype=torch.float64)


def _rand(shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
    return torch.rand(shape, generator=generator, dtype=torch.float64)


def _randint(high: int, n: int, generator: torch.Generator | None) -> Tensor:
    return torch.randint(high, (n,), generator=generator)


class Density2D:
    """A density on :math:`\\mathbb{R}^2` with ``sample`` and an exact ``log_prob``.

    ``sample(n, generator)`` returns an ``(n, 2)`` float32 tensor; ``log_prob(x)`` takes
    ``(N, 2)`` points, computes in float64 and returns ``(N,)`` in ``x``'s dtype;
    ``bounds = (xmin, xmax, ymin, ymax)`` is a box holding essentially all the mass.
    """

    name: str = "density"
    bounds: tuple[float, float, float, float] = (-4.0, 4.0, -4.0, 4.0)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples, shape ``(n, 2)``, float32, drawn with ``generator`` (CPU)."""
        return self._sample(_check_n(n), generator).to(torch.float32)

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log-density at the rows of ``x`` ``(N, 2)``, computed in float64;
        returns ``(N,)`` in ``x``'s floating dtype (float64 for integer input)."""
        dtype = x.dtype if x.is_floating_point() else torch.float64
        return self._log_prob(_check_points(x)).to(dtype)

    def _sample(self, n: int, generator: torch.Generator | None) -> Tensor:
        raise NotImplementedError  # pragma: no cover

    def _log_prob(self, x: Tensor) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class GaussianMixture2D(Density2D):
    r"""Equal-weight mixture of isotropic Gaussians
    :math:`\frac1K\sum_k \mathcal N(\mu_k, \sigma^2 I)`, with means ``(K, 2)``."""

    def __init__(self, name: str, means: Tensor, std: float, bounds: tuple[float, ...]):
        if not isinstance(means, Tensor) or means.ndim != 2 or means.shape[1] != 2:
            shape = tuple(means.shape) if isinstance(means, Tensor) else type(means)
            raise ValueError(f"means must have shape (K, 2), got {shape}")
        if not (isinstance(std, (int, float)) and std > 0):
            raise ValueError(f"std must be > 0, got {std!r}")
        if len(bounds) != 4 or not (bounds[0] < bounds[1] and bounds[2] < bounds[3]):
            raise ValueError(f"bounds must be (xmin, xmax, ymin, ymax), got {bounds!r}")
        self.name = name
        self.means = means.to(torch.float64)
        self.std = float(std)
        self.bounds = bounds

    @property
    def distribution(self) -> MixtureSameFamily:
        k = self.means.shape[0]
        comp = Independent(Normal(self.means, torch.full_like(self.means, self.std)), 1)
        weights = Categorical(logits=torch.zeros(k, dtype=torch.float64))
        return MixtureSameFamily(weights, comp)

    def _sample(self, n, generator):
        idx = _randint(self.means.shape[0], n, generator)
        return self.means[idx] + self.std * _randn((n, 2), generator)

    def _log_prob(self, x):
        return self.distribution.log_prob(x)


def gauss_legendre(
    a: float, b: float, panels: int, order: int
) -> tuple[Tensor, Tensor]:
    r"""Composite Gauss-Legendre rule on ``[a, b]``: ``panels`` equal sub-intervals with
    ``order`` nodes each, so that :math:`\int_a^b f \approx \sum_i w_i f(t_i)`, exact
    for polynomials of degree :math:`2\,\text{order} - 1` on every panel.

    Returns ``(nodes, weights)``, two float64 tensors of shape ``(panels * order,)``.
    """
    if not b > a:
        raise ValueError(f"b must be greater than a, got a={a!r}, b={b!r}")
    for name, value in (("panels", panels), ("order", order)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    z, w = np.polynomial.legendre.leggauss(order)
    edges = torch.linspace(a, b, panels + 1, dtype=torch.float64)
    half = (edges[1:] - edges[:-1])[:, None] / 2
    mid = (edges[1:] + edges[:-1])[:, None] / 2
    nodes = (mid + half * torch.as_tensor(z)).reshape(-1)
    weights = (half * torch.as_tensor(w)).reshape(-1)
    return nodes, weights
