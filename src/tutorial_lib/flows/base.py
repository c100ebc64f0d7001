r"""Normalizing flows: the direction convention, simple layers, and :class:`Flow`.

A flow is a bijection :math:`f_\theta` from data :math:`x \in \mathbb R^D` to noise
:math:`z = f_\theta(x)` with a simple base density :math:`p_Z`. By the change of
variables formula

.. math::
    \log q_\theta(x) = \log p_Z(f_\theta(x))
        + \log\left|\det \frac{\partial f_\theta(x)}{\partial x}\right| .

**Direction.** Every layer's ``forward`` maps data towards noise, ``x -> z``, and
returns ``(z, log|det dz/dx|)`` (one value per row); ``inverse`` maps ``z -> x`` and is
used only for sampling. Training evaluates :math:`\log q_\theta(x)` on data, so it only
needs ``forward``. The determinant *accounts for* the change of volume; only
volume-preserving layers (NICE, permutations) have :math:`|\det| = 1`.

See Papamakarios et al. 2021 (arXiv:1912.02762) for a review.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.distributions import Independent, Normal

__all__ = ["Transform", "Permutation", "ActNorm", "Flow", "nll_loss", "check_dim"]


def check_dim(dim: int) -> int:
    """Validate a feature dimension (an int >= 1)."""
    if not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim must be an int >= 1, got {dim!r}")
    return dim


class Transform(nn.Module):
    """A bijective layer. Subclasses implement ``forward(x) -> (z, logdet)`` with
    ``logdet = log|det dz/dx|`` of shape ``(N,)``, and ``inverse(z) -> x``."""

    dim: int

    def _check(self, x: Tensor, name: str = "x") -> None:
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(
                f"{name} must have shape (N, {self.dim}), got {tuple(x.shape)}"
            )

    def forward(
        self, x: Tensor
    ) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def inverse(self, z: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class Permutation(Transform):
    r"""Reorder the features, :math:`z = x_{\pi}`; volume preserving, log-det 0."""

    def __init__(self, perm: Tensor | list[int]):
        super().__init__()
        perm = torch.as_tensor(perm, dtype=torch.long)
        if perm.dim() != 1 or not torch.equal(
            perm.sort().values, torch.arange(len(perm))
        ):
            raise ValueError(
                f"perm must be a permutation of 0..D-1, got {perm.tolist()}"
            )
        self.dim = len(perm)
        self.register_buffer("perm", perm)
        self.register_buffer("inv_perm", torch.argsort(perm))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self._check(x)
        return x[:, self.perm], x.new_zeros(x.shape[0])

    def inverse(self, z: Tensor) -> Tensor:
        self._check(z, "z")
        return z[:, self.inv_perm]


class ActNorm(Transform):
    r"""Per-feature affine normalisation :math:`z = (x - b) \odot e^{-s}`, log-det
    :math:`-\sum_i s_i` (Kingma & Dhariwal 2018, Glow, arXiv:1807.03039).

    On the first forward pass in training mode :math:`b` and :math:`s` are set from the
    batch so that the output has zero mean and unit variance (data-dependent init).
    """

    def __init__(self, dim: int):
        super().__init__()
        self.dim = check_dim(dim)
        self.shift = nn.Parameter(torch.zeros(dim))
        self.log_scale = nn.Parameter(torch.zeros(dim))
        self.register_buffer("initialized", torch.tensor(False))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self._check(x)
        if self.training and not bool(self.initialized) and x.shape[0] > 1:
            with torch.no_grad():
                self.shift.copy_(x.mean(0))
                self.log_scale.copy_(x.std(0).clamp_min(1e-6).log())
                self.initialized.fill_(True)
        z = (x - self.shift) * torch.exp(-self.log_scale)
        return z, (-self.log_scale.sum()).expand(x.shape[0])

    def inverse(self, z: Tensor) -> Tensor:
        self._check(z, "z")
        return z * torch.exp(self.log_scale) + self.shift


class Flow(nn.Module):
    r"""Layers :math:`f = f_L \circ \dots \circ f_1` over a standard normal base
    :math:`p_Z = \mathcal N(0, I_D)` (a ``torch.distributions`` object).

    ``log_prob(x)`` sums the layers' log-determinants along ``x -> z``; ``sample(n)``
    draws :math:`z \sim p_Z` and runs the layers' inverses in reverse order.
    """

    def __init__(self, layers: list[Transform] | nn.ModuleList, dim: int):
        super().__init__()
        self.dim = check_dim(dim)
        for layer in layers:
            if getattr(layer, "dim", dim) != dim:
                raise ValueError(
                    f"layers: every layer must have dim={dim}, got {layer.dim} in "
                    f"{type(layer).__name__}"
                )
        self.layers = nn.ModuleList(layers)
        self.register_buffer("base_loc", torch.zeros(dim))
        self.register_buffer("base_scale", torch.ones(dim))

    @property
    def base(self) -> Independent:
        """The base distribution :math:`\\mathcal N(0, I_D)` on the flow's device and
        dtype."""
        return Independent(Normal(self.base_loc, self.base_scale), 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Map data to noise: ``(z, log|det dz/dx|)``, shapes ``(N, D)`` and
        ``(N,)``."""
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (N, {self.dim}), got {tuple(x.shape)}")
        logdet = x.new_zeros(x.shape[0])
        for layer in self.layers:
            x, ld = layer(x)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, z: Tensor) -> Tensor:
        """Map noise to data (the inverse of :meth:`forward`)."""
        if z.dim() != 2 or z.shape[1] != self.dim:
            raise ValueError(f"z must have shape (N, {self.dim}), got {tuple(z.shape)}")
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z

    def log_prob(self, x: Tensor) -> Tensor:
        """:math:`\\log q_\\theta(x)` per row, shape ``(N,)``."""
        z, logdet = self(x)
        return self.base.log_prob(z) + logdet

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples ``(n, D)``: :math:`x = f^{-1}(z)`, :math:`z \\sim p_Z`."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        z = torch.randn(n, self.dim, generator=generator, dtype=self.base_loc.dtype)
        return self.inverse(z.to(self.base_loc.device))


def nll_loss(flow: Flow, batch: Tensor) -> Tensor:
    r"""Mean negative log-likelihood of a batch ``(N, D)``, the maximum-likelihood loss
    :math:`-\frac1N \sum_i \log q_\theta(x_i)`."""
    if not isinstance(batch, Tensor) or batch.dim() != 2 or batch.shape[0] == 0:
        shape = (
            tuple(batch.shape) if isinstance(batch, Tensor) else type(batch).__name__
        )
        raise ValueError(f"batch must be a non-empty (N, D) tensor, got {shape}")
    return -flow.log_prob(batch).mean()
