r"""Flow architectures, built from a frozen configuration.

:func:`build_flow` turns a frozen :class:`FlowConfig` into a
:class:`~tutorial_lib.flows.Flow`:

- ``"realnvp"``: affine couplings with alternating masks (Dinh et al. 2017,
  arXiv:1605.08803);
- ``"maf"``: affine masked autoregressive layers with alternating orders
  (Papamakarios et al. 2017, arXiv:1705.07057);
- ``"spline"``: rational-quadratic spline couplings (Durkan et al. 2019,
  arXiv:1906.04032);
- ``"spline_ar"``: autoregressive rational-quadratic splines (the "NSF" of ``zuko``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import ActNorm, Flow, Permutation, Transform, check_dim
from .coupling import AffineCoupling, SplineCoupling, alternating_masks
from .maf import MaskedAutoregressive

__all__ = ["FlowConfig", "build_flow", "FLOW_KINDS"]


FLOW_KINDS = ("realnvp", "maf", "spline", "spline_ar")


@dataclass(frozen=True)
class FlowConfig:
    """Architecture of a flow: ``layers`` layers of type ``kind`` whose conditioners are
    MLPs with ``depth`` hidden layers of ``hidden`` units; spline layers have ``bins``
    bins on ``[-bound, bound]``. ``actnorm`` puts an
    :class:`~tutorial_lib.flows.ActNorm` before every layer; ``permute`` a fixed random
    permutation between layers (seeded by ``perm_seed``), otherwise masks and orders
    alternate."""

    kind: str
    layers: int = 4
    hidden: int = 64
    depth: int = 2
    bins: int = 8
    bound: float = 4.0
    actnorm: bool = False
    permute: bool = False
    perm_seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FLOW_KINDS:
            raise ValueError(f"kind must be one of {FLOW_KINDS}, got {self.kind!r}")
        if self.layers < 1 or self.hidden < 1 or self.depth < 1:
            raise ValueError(
                "layers, hidden and depth must be >= 1, "
                f"got {self.layers}, {self.hidden}, {self.depth}"
            )
        if self.bins < 2:
            raise ValueError(f"bins must be >= 2, got {self.bins}")
        if self.bound <= 0:
            raise ValueError(f"bound must be > 0, got {self.bound}")


def build_flow(config: FlowConfig, dim: int) -> Flow:
    """Build the flow described by ``config`` for ``dim`` features (``dim >= 2``)."""
    if not isinstance(config, FlowConfig):
        raise ValueError(f"config must be a FlowConfig, got {type(config).__name__}")
    check_dim(dim)
    if dim < 2:
        raise ValueError(
            f"dim must be >= 2 for coupling and autoregressive flows, got {dim}"
        )
    c = config
    masks = alternating_masks(dim, c.layers)
    gen = torch.Generator().manual_seed(c.perm_seed)
    layers: list[Transform] = []
    for i in range(c.layers):
        if c.actnorm:
            layers.append(ActNorm(dim))
        if c.kind == "realnvp":
            layers.append(AffineCoupling(dim, masks[i], c.hidden, c.depth))
        elif c.kind == "spline":
            layers.append(
                SplineCoupling(dim, masks[i], c.hidden, c.depth, c.bins, c.bound)
            )
        else:
            kind = "affine" if c.kind == "maf" else "spline"
            reverse = i % 2 == 1
            layers.append(
                MaskedAutoregressive(
                    dim, c.hidden, c.depth, kind, reverse, c.bins, c.bound
                )
            )
        if c.permute and i < c.layers - 1:
            layers.append(Permutation(torch.randperm(dim, generator=gen)))
    return Flow(layers, dim)
