r"""The GAN's players: fully connected ones, and convolutional ones for the digits.

A generator :math:`G_\theta` maps noise :math:`z` to a sample; a discriminator returns
the *logit* :math:`f(x)` of :math:`D(x) = \sigma(f(x))`. :class:`MLPDiscriminator` can
pack several samples into one input (PacGAN, Lin et al. 2018, arXiv:1712.04086);
:class:`ConvDiscriminator` can divide its weights by their spectral norms (Miyato et al.
2018, arXiv:1802.05957).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..nn import mlp

__all__ = [
    "PRIORS",
    "OUTPUTS",
    "MLPGenerator",
    "MLPDiscriminator",
    "ConvGenerator",
    "ConvDiscriminator",
]

#: Noise distributions of the generators.
PRIORS = ("normal", "uniform")

#: Output layers of :class:`MLPGenerator`: linear, or ``tanh`` for data in [-1, 1].
OUTPUTS = ("linear", "tanh")


class MLPGenerator(nn.Module):
    r"""Fully connected generator :math:`G: \mathbb R^{d_z} \to \mathbb R^{d}` with ReLU
    activations (as DCGAN's generator, arXiv:1511.06434): ReLU units can switch off and
    leave flat regions, which a generator needs to squeeze noise into narrow modes.
    The output layer is linear, or a ``tanh`` (``output="tanh"``) for data bounded in
    :math:`[-1, 1]` such as scaled pixels; it is multiplied by ``out_scale`` (the
    spread of the data) so that the network itself works at unit scale.

    ``forward(z)`` maps ``(B, latent_dim)`` to ``(B, out_dim)``; :meth:`noise` draws
    :math:`z` from the prior, ``"normal"`` (:math:`\mathcal N(0, I)`) or ``"uniform"``
    (uniform on :math:`[-1, 1]^{d_z}`, as in DCGAN); :meth:`sample` does both. A bounded
    prior has no rare far-out :math:`z` on which the network was hardly trained and
    which it maps, by linear extrapolation, far from the data.
    """

    def __init__(
        self,
        latent_dim: int = 2,
        hidden: int = 128,
        layers: int = 3,
        out_dim: int = 2,
        out_scale: float = 1.0,
        prior: str = "normal",
        output: str = "linear",
    ):
        super().__init__()
        if prior not in PRIORS:
            raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")
        self.prior = prior
        sizes = (("latent_dim", latent_dim), ("hidden", hidden), ("layers", layers))
        for name, value in (*sizes, ("out_dim", out_dim)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if not out_scale > 0:
            raise ValueError(f"out_scale must be > 0, got {out_scale}")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        self.latent_dim, self.out_scale, self.output = latent_dim, out_scale, output
        self.net = mlp(latent_dim, out_dim, hidden, layers, "relu")

    def forward(self, z: Tensor) -> Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"z must have shape (B, {self.latent_dim}), got {tuple(z.shape)}"
            )
        h = self.net(z)  # (B, out_dim)
        return self.out_scale * (torch.tanh(h) if self.output == "tanh" else h)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples, shape ``(n, out_dim)``, on the generator's device."""
        device = next(self.parameters()).device
        return self(self.noise(n, generator).to(device))

    def noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` draws of the prior, shape ``(n, latent_dim)``, on the CPU."""
        if self.prior == "uniform":
            return 2.0 * torch.rand(n, self.latent_dim, generator=generator) - 1.0
        return torch.randn(n, self.latent_dim, generator=generator)


class MLPDiscriminator(nn.Module):
    r"""Fully connected discriminator returning the logit :math:`f(x)`.

    With ``pack = m > 1`` it is a PacGAN discriminator: the input ``(B·m, in_dim)`` is
    regrouped into ``(B, m·in_dim)`` (``m`` consecutive rows form one pack) and one
    logit per pack is returned, shape ``(B,)``. The input is first multiplied by
    ``in_scale``: data whose modes are narrow (width 0.01) need first-layer weights of
    order 1/width to be resolved, and Adam moves a weight by about the learning rate per
    step, so a fixed rescaling saves thousands of steps.
    """

    def __init__(
        self,
        in_dim: int = 2,
        hidden: int = 128,
        layers: int = 3,
        pack: int = 1,
        in_scale: float = 1.0,
    ):
        super().__init__()
        sizes = (("in_dim", in_dim), ("hidden", hidden), ("layers", layers))
        for name, value in (*sizes, ("pack", pack)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if not in_scale > 0:
            raise ValueError(f"in_scale must be > 0, got {in_scale}")
        self.in_dim, self.pack, self.in_scale = in_dim, pack, in_scale
        self.net = mlp(in_dim * pack, 1, hidden, layers, "leaky_relu")

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_dim or x.shape[0] % self.pack:
            raise ValueError(
                f"x must have shape (B*{self.pack}, {self.in_dim}) with "
                f"pack={self.pack}, "
                f"got {tuple(x.shape)}"
            )
        rows = x.reshape(
            x.shape[0] // self.pack, self.pack * self.in_dim
        )  # (B, m*in_dim)
        packed = self.in_scale * rows
        return self.net(packed).squeeze(-1)  # (B,)


def _check_rows(x: Tensor) -> Tensor:
    if x.dim() != 2 or x.shape[1] != 64:
        raise ValueError(
            f"x must have shape (B, 64) (flattened 8x8 images), got {tuple(x.shape)}"
        )
    return x


class ConvGenerator(nn.Module):
    r"""Noise :math:`z \in \mathbb R^{d_z}` to an 8x8 image on the scale [-1, 1],
    returned flattened as ``(B, 64)``: linear to ``(B, 2c, 2, 2)``, two transposed
    convolutions that double the side (2 → 4 → 8), ``tanh`` output."""

    def __init__(self, latent_dim: int = 16, channels: int = 32):
        super().__init__()
        if latent_dim < 1 or channels < 1:
            raise ValueError(
                f"latent_dim and channels must be >= 1, got {latent_dim}, {channels}"
            )
        self.latent_dim, self.channels = latent_dim, channels
        self.fc = nn.Linear(latent_dim, 2 * channels * 4)
        self.up1 = nn.ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1)
        self.up2 = nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1)
        self.out = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, z: Tensor) -> Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"z must have shape (B, {self.latent_dim}), got {tuple(z.shape)}"
            )
        h = F.leaky_relu(self.fc(z), 0.2).view(
            -1, 2 * self.channels, 2, 2
        )  # (B, 2c, 2, 2)
        h = F.leaky_relu(self.up1(h), 0.2)  # (B, c, 4, 4)
        h = F.leaky_relu(self.up2(h), 0.2)  # (B, c, 8, 8)
        return torch.tanh(self.out(h)).flatten(1)  # (B, 64)

    def noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        r"""``n`` draws of :math:`z \sim \mathcal N(0, I)`, shape ``(n, latent_dim)``,
        on the CPU."""
        return torch.randn(n, self.latent_dim, generator=generator)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` images on the scale [-1, 1], shape ``(n, 64)``."""
        device = next(self.parameters()).device
        return self(self.noise(n, generator).to(device))


class ConvDiscriminator(nn.Module):
    """Flattened 8x8 images ``(B, 64)`` on the scale [-1, 1] to one logit each,
    ``(B,)``:
    two stride-2 convolutions (8 → 4 → 2), then a linear layer. With ``spectral_norm``
    every layer's weight is divided by its largest singular value (Miyato et al. 2018,
    arXiv:1802.05957), which bounds the discriminator's Lipschitz constant."""

    def __init__(self, channels: int = 32, spectral_norm: bool = False):
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        sn = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        self.conv1 = sn(nn.Conv2d(1, channels, 4, stride=2, padding=1))
        self.conv2 = sn(nn.Conv2d(channels, 2 * channels, 4, stride=2, padding=1))
        self.fc = sn(nn.Linear(2 * channels * 4, 1))

    def forward(self, x: Tensor) -> Tensor:
        h = _check_rows(x).view(-1, 1, 8, 8)  # (B, 1, 8, 8)
        h = F.leaky_relu(self.conv1(h), 0.2)  # (B, c, 4, 4)
        h = F.leaky_relu(self.conv2(h), 0.2)  # (B, 2c, 2, 2)
        return self.fc(h.flatten(1)).squeeze(-1)  # (B,)
