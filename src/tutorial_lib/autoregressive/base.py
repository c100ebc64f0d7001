r"""Autoregressive models of discrete images: the chain rule as the model.

Any distribution over :math:`D` pixels factorises, in any order :math:`\pi`, as

.. math::
    p(x) = \prod_{k=1}^{D} p\bigl(x_{\pi_k} \mid x_{\pi_1}, \dots, x_{\pi_{k-1}}\bigr).

An autoregressive model gives each factor a network output: here a categorical
distribution over the ``levels`` pixel values (17 for the digits), its logits computed
from the pixels before it. :class:`AutoregressiveModel` holds what every such model
shares:

* ``logits(x)``: all :math:`D` conditionals in **one** network pass (teacher forcing:
  the true pixels are fed in, the masks hide each pixel's successors);
* ``log_prob(x)``: the exact :math:`\log p(x)`, the sum of the :math:`D` categorical
  log-probabilities;
* ``sample(n, generator)``: sequential sampling, one network pass per pixel, since pixel
  :math:`\pi_k` can only be drawn once the pixels before it are known.

:class:`OrderMixture` averages full models, :math:`p(x) = \frac1K \sum_k p_k(x)`:
still a normalised distribution with an exact likelihood.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = [
    "AutoregressiveModel",
    "OrderMixture",
    "check_order",
    "check_pixels",
    "nll_loss",
    "exact_nll",
    "all_configurations",
]


def check_order(order: object, dim: int) -> Tensor:
    """``order`` as a LongTensor permutation of ``0..dim-1`` (``ValueError`` naming
    ``order`` otherwise)."""
    try:
        t = torch.as_tensor(order, dtype=torch.long)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"order must be a permutation of 0..{dim - 1}, got {order!r}")
    if t.shape != (dim,) or not torch.equal(t.sort().values, torch.arange(dim)):
        raise ValueError(f"order must be a permutation of 0..{dim - 1}, got {order!r}")
    return t


def check_pixels(x: object, dim: int, levels: int, name: str = "x") -> Tensor:
    """``x`` must be an ``(N, dim)`` tensor of integer values in ``0..levels-1``."""
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] != dim:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be an (N, {dim}) tensor of pixels, got {shape}")
    if x.numel() and (
        not torch.equal(x, x.round()) or x.min() < 0 or x.max() > levels - 1
    ):
        raise ValueError(f"{name} must hold integers in 0..{levels - 1}")
    return x


class AutoregressiveModel(nn.Module):
    r"""A categorical autoregressive model of ``dim`` pixels with ``levels`` values.

    Subclasses set ``dim``, ``levels``, the buffer ``order`` (the sampling order
    :math:`\pi`) and implement ``logits(x) -> (N, dim, levels)`` such that the logits of
    pixel :math:`\pi_k` depend only on :math:`x_{\pi_1}, \dots, x_{\pi_{k-1}}`.
    Inputs are pixel values ``(N, dim)`` in ``0..levels-1`` (float or int).
    """

    dim: int
    levels: int
    order: Tensor

    def encode(self, x: Tensor) -> Tensor:
        """Pixel values ``0..levels-1`` to the networks' scale ``[-1, 1]`` (in the
        parameters' dtype and device)."""
        p = next(self.parameters())
        return x.to(p.device, p.dtype) * (2.0 / (self.levels - 1)) - 1.0

    def logits(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """The logits of the :math:`D` conditionals, ``(N, dim, levels)``."""
        return self.logits(x)

    def log_prob(self, x: Tensor) -> Tensor:
        r""":math:`\log p(x) = \sum_i \log p(x_i \mid x_{<i})` per row, shape ``(N,)``
        (teacher forcing: one network pass)."""
        check_pixels(x, self.dim, self.levels)
        logp = F.log_softmax(self.logits(x), dim=-1)  # (N, D, L)
        idx = x.to(logp.device).long().unsqueeze(-1)  # (N, D, 1)
        return logp.gather(-1, idx).squeeze(-1).sum(1)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` images ``(n, dim)`` (float pixel values), drawn pixel by pixel in
        ``order``: ``dim`` network passes. ``generator`` (on the CPU) makes the draws
        reproducible."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be an int >= 1, got {n!r}")
        was_training = self.training
        self.eval()
        x = torch.zeros(n, self.dim, device=self.order.device)
        for i in self.order.tolist():  # pixel i needs the pixels before it
            probs = F.softmax(self.logits(x)[:, i].double().cpu(), dim=-1)  # (n, L)
            draw = torch.multinomial(probs, 1, generator=generator)[:, 0]
            x[:, i] = draw.to(x)
        self.train(was_training)
        return x


class OrderMixture(nn.Module):
    r"""The uniform mixture :math:`p(x) = \frac1K\sum_{k=1}^K p_k(x)` of ``K`` full
    autoregressive models (for example one per pixel order): exact likelihood
    :math:`\log p(x) = \operatorname{logsumexp}_k \log p_k(x) - \log K`; a sample
    picks a component uniformly, then samples it."""

    def __init__(self, models: list[AutoregressiveModel] | nn.ModuleList):
        super().__init__()
        models = list(models)
        if not models or not all(isinstance(m, AutoregressiveModel) for m in models):
            raise ValueError(
                "models must be a non-empty list of AutoregressiveModel, "
                f"got {[type(m).__name__ for m in models]}"
            )
        if len({(m.dim, m.levels) for m in models}) != 1:
            raise ValueError("models must share dim and levels")
        self.models = nn.ModuleList(models)
        self.dim, self.levels = models[0].dim, models[0].levels

    def log_prob(self, x: Tensor) -> Tensor:
        """The mixture's exact log-probability per row, shape ``(N,)``."""
        check_pixels(x, self.dim, self.levels)
        lp = torch.stack([m.log_prob(x) for m in self.models])  # (K, N)
        return torch.logsumexp(lp, 0) - math.log(len(self.models))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` images: a uniform component per image, then its sequential sampler."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be an int >= 1, got {n!r}")
        k = torch.randint(len(self.models), (n,), generator=generator)
        x = torch.zeros(n, self.dim)
        for j, model in enumerate(self.models):
            rows = (k == j).nonzero()[:, 0]
            if len(rows):
                x[rows] = model.sample(len(rows), generator).cpu()
        return x


def nll_loss(model: nn.Module, batch: Tensor) -> Tensor:
    """The training loss: mean negative log-likelihood in nats per image."""
    if not isinstance(batch, Tensor) or batch.dim() != 2 or batch.shape[0] == 0:
        raise ValueError("batch must be a non-empty (N, D) tensor")
    return -model.log_prob(batch).mean()


@torch.no_grad()
def exact_nll(
    model: nn.Module, x: Tensor, batch_size: int = 512
) -> tuple[float, float]:
    r"""The exact NLL :math:`-\frac1N\sum_n \log p(x_n)` in nats per image and its
    standard error over images, ``(mean, se)``; the model is put in eval mode."""
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[0] < 2:
        raise ValueError("x must be an (N, D) tensor with N >= 2")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    model.eval()
    nll = -torch.cat([model.log_prob(b).double().cpu() for b in x.split(batch_size)])
    return nll.mean().item(), (nll.std() / math.sqrt(len(nll))).item()


def all_configurations(dim: int, levels: int) -> Tensor:
    """Every image of ``dim`` pixels with ``levels`` values, ``(levels ** dim, dim)``
    float, in lexicographic order (the first pixel varies slowest); at most a million
    rows."""
    for name, value, low in (("dim", dim, 1), ("levels", levels, 2)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if levels**dim > 1_000_000:
        raise ValueError(
            f"levels ** dim must be <= 1e6 to enumerate, got {levels ** dim}"
        )
    grids = torch.meshgrid(*[torch.arange(levels)] * dim, indexing="ij")
    return torch.stack([g.reshape(-1) for g in grids], 1).float()
