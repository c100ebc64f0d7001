r"""Flows on discrete data: uniform dequantisation and the logit preprocessing.

A flow has a density on :math:`\mathbb R^D`, but pixels take values in
:math:`\{0, \dots, L-1\}`. Uniform dequantisation (Theis et al. 2016, arXiv:1511.01844)
trains a density :math:`q` on :math:`v = x + u`, :math:`u \sim U[0,1)^D`. For any
:math:`q \ge 0` with :math:`\int q \le 1`, the discrete model
:math:`P(x) = \int_{[0,1)^D} q(x + u)\,du` has total mass
:math:`Z = \sum_x P(x) = \int_{[0, L)^D} q \le 1`: it is a *sub*-probability whenever
:math:`q` puts mass outside :math:`[0, L)^D` (the cubes :math:`x + [0,1)^D` are disjoint
and tile :math:`[0, L)^D`). By Jensen's inequality, and because :math:`Z \le 1`,

.. math::
    -\log \frac{P(x)}{Z} \le -\log P(x) \le \mathbb E_{u}\left[-\log q(x + u)\right] ,

so the dequantised test NLL (nats per image) is an upper bound on the NLL of the
normalised discrete model :math:`P/Z`.

With :class:`LogitTransform` in front of a flow on :math:`\mathbb R^D`, the density on
:math:`v` lives on :math:`(0, L)^D`, but the logit maps that cube onto the bounded box
:math:`(\mathrm{logit}\,\alpha, \mathrm{logit}(1-\alpha))^D`, not onto
:math:`\mathbb R^D`: the mass that the flow puts outside the box is lost, so
:math:`Z < 1` and the bound above is the one that holds.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import Flow, Transform, check_dim
from .build import FlowConfig, build_flow

__all__ = ["LogitTransform", "build_dequantized_flow"]


class LogitTransform(Transform):
    r"""Fixed preprocessing :math:`y = \mathrm{logit}(\alpha + (1 - 2\alpha) v / L)`
    (RealNVP's logit trick, Dinh et al. 2017, arXiv:1605.08803), with

    .. math::
        \log\left|\det \frac{\partial y}{\partial v}\right|
        = \sum_i \left[\log\frac{1-2\alpha}{L} - \log p_i - \log(1 - p_i)\right],
        \quad p_i = \alpha + (1-2\alpha) v_i / L .

    It maps :math:`(0, L)^D` onto the box :math:`(\mathrm{logit}\,\alpha,
    \mathrm{logit}(1-\alpha))^D`. Its inverse is defined on all of
    :math:`\mathbb R^D` and returns values in the wider box
    :math:`\left(-\frac{\alpha L}{1-2\alpha}, \frac{(1-\alpha) L}{1-2\alpha}\right)^D`,
    so samples can fall slightly outside :math:`(0, L)^D`.
    """

    def __init__(self, dim: int, levels: int, alpha: float = 0.05):
        super().__init__()
        self.dim = check_dim(dim)
        if not isinstance(levels, int) or levels < 2:
            raise ValueError(f"levels must be an int >= 2, got {levels!r}")
        if not 0 < alpha < 0.5:
            raise ValueError(f"alpha must be in (0, 0.5), got {alpha}")
        self.levels, self.alpha = levels, alpha

    def forward(self, v: Tensor) -> tuple[Tensor, Tensor]:
        self._check(v, "v")
        p = self.alpha + (1 - 2 * self.alpha) * v / self.levels
        y = torch.log(p) - torch.log1p(-p)
        scale = math.log((1 - 2 * self.alpha) / self.levels)
        logdet = (scale - torch.log(p) - torch.log1p(-p)).sum(1)
        return y, logdet

    def inverse(self, y: Tensor) -> Tensor:
        self._check(y, "y")
        return (torch.sigmoid(y) - self.alpha) / (1 - 2 * self.alpha) * self.levels


def build_dequantized_flow(
    config: FlowConfig, dim: int, levels: int, alpha: float
) -> Flow:
    """A :class:`LogitTransform` (``levels``, ``alpha``) followed by the flow of
    ``config``: a density on dequantised pixels ``v`` in ``(0, levels)^dim``."""
    body = build_flow(config, dim)
    return Flow([LogitTransform(dim, levels, alpha), *body.layers], dim)
