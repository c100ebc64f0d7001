r"""MADE as an autoregressive model (Germain et al. 2015, arXiv:1502.03509).

:class:`~tutorial_lib.nn.MADE` masks an MLP so that output block :math:`i` depends
only on the inputs before :math:`i` in ``order``. With ``levels`` outputs per pixel read
as categorical logits it is a model of discrete images (:class:`CategoricalMADE`); with
two outputs :math:`(\mu_i, \alpha_i)` read as a Gaussian
:math:`\mathcal N(\mu_i, e^{2\alpha_i})` it is a density on :math:`\mathbb R^D`
(:class:`GaussianMADE`), and that density is exactly the masked autoregressive flow's
(Papamakarios et al. 2017, arXiv:1705.07057): :math:`z_i = (x_i - \mu_i)e^{-\alpha_i}`
has log-determinant :math:`-\sum_i \alpha_i`, so
:math:`\log \mathcal N(z; 0, I) - \sum_i\alpha_i = \sum_i \log\mathcal N(x_i; \mu_i,
e^{2\alpha_i})`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.distributions import Normal

from ..nn import MADE
from .base import AutoregressiveModel, check_order

__all__ = ["CategoricalMADE", "GaussianMADE"]


def _check_sizes(dim: int, hidden: int, depth: int, dropout: float) -> None:
    sizes = (("dim", dim, 2), ("hidden", hidden, 1), ("depth", depth, 1))
    for name, value, low in sizes:
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")


def _with_dropout(made: MADE, dropout: float) -> MADE:
    """Insert ``Dropout(dropout)`` after every hidden ReLU of ``made`` (masks unchanged:
    dropout zeroes units, it adds no connection)."""
    if dropout > 0:
        layers: list[nn.Module] = []
        for layer in made.net:
            layers.append(layer)
            if isinstance(layer, nn.ReLU):
                layers.append(nn.Dropout(dropout))
        made.net = nn.Sequential(*layers)
    return made


class CategoricalMADE(AutoregressiveModel):
    r"""MADE with a ``levels``-way categorical per pixel:
    :math:`p(x_i \mid x_{<i}) = \mathrm{softmax}(\ell_i(x_{<i}))`, the logits
    :math:`\ell_i` of one masked pass over the pixels scaled to ``[-1, 1]``.

    ``order`` is a permutation of ``0..dim-1`` (default: raster order); ``hidden``
    units in each of ``depth`` masked layers, with ``dropout`` after each. The last
    layer starts at zero, so a fresh model is uniform: :math:`D\log L` nats.
    """

    def __init__(
        self,
        dim: int,
        levels: int,
        hidden: int,
        depth: int,
        order: Tensor | list[int] | None = None,
        dropout: float = 0.0,
    ):
        super().__init__()
        _check_sizes(dim, hidden, depth, dropout)
        if not isinstance(levels, int) or isinstance(levels, bool) or levels < 2:
            raise ValueError(f"levels must be an int >= 2, got {levels!r}")
        order = torch.arange(dim) if order is None else check_order(order, dim)
        self.dim, self.levels = dim, levels
        self.register_buffer("order", order)
        self.made = _with_dropout(MADE(dim, levels, hidden, depth, order), dropout)

    def logits(self, x: Tensor) -> Tensor:
        """Logits ``(N, dim, levels)``; those of pixel ``order[k]`` see only
        ``order[:k]``."""
        return self.made(self.encode(x))


class GaussianMADE(nn.Module):
    r"""MADE with a Gaussian per feature,
    :math:`p(x_i \mid x_{<i}) = \mathcal N(x_i; \mu_i, e^{2\alpha_i})`, where
    :math:`(\mu_i, a_i)` are the two outputs of block :math:`i` and
    :math:`\alpha_i = c\tanh(a_i / c)` (``clamp`` :math:`c`, as
    :class:`~tutorial_lib.flows.MaskedAutoregressive`). Sampling draws
    :math:`x_i = \mu_i + e^{\alpha_i}\varepsilon_i` feature by feature.
    """

    def __init__(
        self,
        dim: int,
        hidden: int,
        depth: int,
        order: Tensor | list[int] | None = None,
        clamp: float = 3.0,
    ):
        super().__init__()
        _check_sizes(dim, hidden, depth, 0.0)
        if not clamp > 0:
            raise ValueError(f"clamp must be > 0, got {clamp!r}")
        order = torch.arange(dim) if order is None else check_order(order, dim)
        self.dim, self.clamp = dim, float(clamp)
        self.register_buffer("order", order)
        self.made = MADE(dim, 2, hidden, depth, order)

    def conditionals(self, x: Tensor) -> Normal:
        """The :math:`D` conditionals :math:`\\mathcal N(\\mu_i, e^{2\\alpha_i})` at
        ``x`` (teacher forcing), batch shape ``(N, dim)``."""
        if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (N, {self.dim})")
        p = self.made(x)  # (N, D, 2)
        alpha = self.clamp * torch.tanh(p[..., 1] / self.clamp)
        return Normal(p[..., 0], alpha.exp())

    def log_prob(self, x: Tensor) -> Tensor:
        r""":math:`\sum_i \log \mathcal N(x_i; \mu_i(x_{<i}), e^{2\alpha_i(x_{<i})})`,
        shape ``(N,)``."""
        return self.conditionals(x).log_prob(x).sum(1)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples ``(n, dim)``, one network pass per feature."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be an int >= 1, got {n!r}")
        p = next(self.parameters())
        eps = torch.randn(n, self.dim, generator=generator, dtype=p.dtype).to(p.device)
        x = torch.zeros_like(eps)
        for i in self.order.tolist():
            d = self.conditionals(x)
            x[:, i] = d.loc[:, i] + d.scale[:, i] * eps[:, i]
        return x
