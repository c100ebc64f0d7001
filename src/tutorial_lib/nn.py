r"""The networks every part builds on: one MLP builder and the masked MLP (MADE).

:func:`mlp` is the only multilayer perceptron of the library: the VAE's encoder and decoder,
the GAN's fully connected players and the flows' conditioners are all built by it.
:class:`MADE` (Germain et al. 2015, arXiv:1502.03509) masks an MLP's weights so that output
block :math:`i` depends only on the inputs before :math:`i` in a chosen order: the conditioner
of the masked autoregressive flows and the autoregressive models.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["ACTIVATIONS", "activation_module", "mlp", "MaskedLinear", "MADE"]

#: Activation names accepted by :func:`mlp`.
ACTIVATIONS = ("relu", "gelu", "tanh", "leaky_relu")


def activation_module(name: str) -> nn.Module:
    """The activation module of ``name`` (one of :data:`ACTIVATIONS`; ``"leaky_relu"``
    has slope 0.2), as :func:`mlp` uses it."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {name!r}")
    return _activation(name)


def _activation(name: str) -> nn.Module:
    if name == "leaky_relu":
        return nn.LeakyReLU(0.2)
    return {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}[name]()


def mlp(
    d_in: int,
    d_out: int,
    hidden: int,
    depth: int,
    activation: str = "relu",
    dropout: float = 0.0,
    zero_last: bool = False,
) -> nn.Sequential:
    """A fully connected network ``d_in -> hidden x depth -> d_out``.

    Each hidden layer is ``Linear`` then the activation (``"relu"``, ``"gelu"``, ``"tanh"`` or
    ``"leaky_relu"`` with slope 0.2), then ``Dropout(dropout)`` when ``dropout > 0``; the output
    layer is linear. ``zero_last=True`` starts the output layer at zero, so that a fresh flow
    conditioner outputs zeros and its layer starts at the identity.
    """
    for name, value in (("d_in", d_in), ("d_out", d_out), ("hidden", hidden), ("depth", depth)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    layers: list[nn.Module] = []
    width = d_in
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), _activation(activation)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = hidden
    last = nn.Linear(width, d_out)
    if zero_last:
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
    return nn.Sequential(*layers, last)


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask ``(out, in)``."""

    def __init__(self, mask: Tensor):
        if not isinstance(mask, Tensor) or mask.dim() != 2 or not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError(f"mask must be a 2-D tensor of zeros and ones (out, in), got {mask!r}")
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    r"""Masked autoencoder: output block :math:`i` (``n_params`` values) depends only on
    inputs that come before feature :math:`i` in ``order``."""

    def __init__(self, dim: int, n_params: int, hidden: int, depth: int, order: Tensor):
        super().__init__()
        if dim < 2:
            raise ValueError(f"an autoregressive layer needs dim >= 2, got {dim}")
        if hidden < 1 or depth < 1:
            raise ValueError(f"hidden and depth must be >= 1, got hidden={hidden}, depth={depth}")
        order = torch.as_tensor(order, dtype=torch.long)
        if order.shape != (dim,) or not torch.equal(order.sort().values, torch.arange(dim)):
            raise ValueError(f"order must be a permutation of 0..{dim - 1}, got {order.tolist()}")
        if n_params < 1:
            raise ValueError(f"n_params must be >= 1, got {n_params}")
        deg_in = torch.empty(dim, dtype=torch.long)
        deg_in[order] = torch.arange(1, dim + 1)  # position of each feature in the order
        degrees = [deg_in] + [torch.arange(hidden) % (dim - 1) + 1 for _ in range(depth)]
        layers: list[nn.Module] = []
        for d_prev, d_next in zip(degrees[:-1], degrees[1:]):
            layers += [MaskedLinear((d_next[:, None] >= d_prev[None, :]).float()), nn.ReLU()]
        d_out = deg_in.repeat_interleave(n_params)  # (D * P,), feature-major
        last = MaskedLinear((d_out[:, None] > degrees[-1][None, :]).float())
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)
        self.dim, self.n_params = dim, n_params

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).reshape(x.shape[0], self.dim, self.n_params)  # (N, D, P)
