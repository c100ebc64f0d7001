r"""Flows on discrete data: uniform dequantisation and the digits flow.

A flow has a density on :math:`\mathbb R^D`, but pixels take values in
:math:`\{0, \dots, L-1\}`. Uniform dequantisation (Theis et al. 2016, arXiv:1511.01844)
trains the flow on :math:`v = x + u`, :math:`u \sim U[0,1)^D`. For any density
:math:`q` on :math:`\mathbb R^D`, the discrete model
:math:`P(x) = \int_{[0,1)^D} q(x + u)\,du` is a proper distribution and, by Jensen,

.. math::
    -\log P(x) \le \mathbb E_{u}\left[-\log q(x + u)\right] ,

so the dequantised test NLL is an upper bound on a discrete NLL (nats per image).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import Flow, Transform, check_dim
from .build import FlowConfig, build_flow

__all__ = ["LogitTransform", "build_dequantized_flow"]


class LogitTransform(Transform):
    r"""Fixed preprocessing :math:`y = \mathrm{logit}(\alpha + (1 - 2\alpha) v / L)` from
    :math:`v \in (0, L)^D` to :math:`\mathbb R^D` (RealNVP's logit trick, Dinh et al.
    2017, arXiv:1605.08803), with

    .. math::
        \log\left|\det \frac{\partial y}{\partial v}\right| = \sum_i \left[\log\frac{1-2\alpha}{L}
        - \log p_i - \log(1 - p_i)\right], \quad p_i = \alpha + (1-2\alpha) v_i / L .
    """

    def __init__(self, dim: int, levels: int, alpha: float = 0.05):
        super().__init__()
        self.dim = check_dim(dim)
        if levels < 2:
            raise ValueError(f"levels must be >= 2, got {levels}")
        if not 0 < alpha < 0.5:
            raise ValueError(f"alpha must be in (0, 0.5), got {alpha}")
        self.levels, self.alpha = levels, alpha

    def forward(self, v: Tensor) -> tuple[Tensor, Tensor]:
        self._check(v)
        p = self.alpha + (1 - 2 * self.alpha) * v / self.levels
        y = torch.log(p) - torch.log1p(-p)
        logdet = (math.log((1 - 2 * self.alpha) / self.levels) - torch.log(p) - torch.log1p(-p)).sum(1)
        return y, logdet

    def inverse(self, y: Tensor) -> Tensor:
        self._check(y)
        return (torch.sigmoid(y) - self.alpha) / (1 - 2 * self.alpha) * self.levels


def build_dequantized_flow(config: FlowConfig, dim: int, levels: int, alpha: float) -> Flow:
    """A :class:`LogitTransform` (``levels``, ``alpha``) followed by the flow of ``config``:
    a density on dequantised pixels ``v`` in ``(0, levels)^dim``."""
    body = build_flow(config, dim)
    return Flow([LogitTransform(dim, levels, alpha), *body.layers], dim)
