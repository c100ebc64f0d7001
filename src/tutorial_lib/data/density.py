r"""The base class of the book's 2-D densities and the helpers they share.

:class:`Density2D` fixes the interface: ``sample(n, generator)`` and an exact ``log_prob``
computed in float64. :func:`gauss_legendre` gives the composite Gauss-Legendre nodes that
the densities without a closed form integrate with.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

__all__ = ["Density2D", "gauss_legendre", "check_n", "check_points"]

LOG2PI = math.log(2 * math.pi)


def check_n(n: int) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    return n


def check_points(x: Tensor) -> Tensor:
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
        return self._sample(check_n(n), generator).to(torch.float32)

    def log_prob(self, x: Tensor) -> Tensor:
        return self._log_prob(check_points(x)).to(x.dtype if x.is_floating_point() else torch.float64)

    def _sample(self, n: int, generator: torch.Generator | None) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def _log_prob(self, x: Tensor) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def gauss_legendre(a: float, b: float, panels: int, order: int) -> tuple[Tensor, Tensor]:
    """Composite Gauss-Legendre nodes and weights on ``[a, b]``."""
    z, w = np.polynomial.legendre.leggauss(order)
    edges = torch.linspace(a, b, panels + 1, dtype=torch.float64)
    half = (edges[1:] - edges[:-1])[:, None] / 2
    mid = (edges[1:] + edges[:-1])[:, None] / 2
    nodes = (mid + half * torch.as_tensor(z)).reshape(-1)
    weights = (half * torch.as_tensor(w)).reshape(-1)
    return nodes, weights
