r"""A small convolutional GAN for the 8x8 digits, and what it takes to evaluate it.

* :class:`ConvGenerator` and :class:`ConvDiscriminator`: a DCGAN-style pair (Radford
  et al. 2016, arXiv:1511.06434) shrunk to 8x8 images, trained by
  :func:`tutorial_lib.gan.train_gan` with the non-saturating loss and a spectrally
  normalised discriminator (Miyato et al. 2018, arXiv:1802.05957); the :math:`R_1`
  penalty is available but off, as it costs a second backward pass per step.
* :class:`DigitClassifier`: a small convolutional classifier trained on the train split;
  its penultimate layer is the feature space of the Fréchet distance, in the spirit of the
  FID (Heusel et al. 2017, arXiv:1706.08500), which uses an Inception network instead.
* :class:`IndependentPixels`: the baseline that samples every pixel independently from its
  marginal histogram on the train split.

Images travel as rows of 64 pixel values in :math:`[0, 16]` (the scale of
:func:`tutorial_lib.data.load_digits_split`); the networks see :math:`x / 8 - 1 \in [-1, 1]`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .gan import GANConfig
from .train import History, TrainConfig, fit

__all__ = [
    "ConvGenerator",
    "ConvDiscriminator",
    "DigitClassifier",
    "IndependentPixels",
    "DigitsGANConfig",
    "DIGITS_GAN_CONFIG",
    "CLASSIFIER_CONFIG",
    "train_classifier",
    "to_unit",
    "to_pixels",
]


def to_unit(pixels: Tensor) -> Tensor:
    """Pixel values in [0, 16] to the networks' scale [-1, 1]."""
    return pixels / 8.0 - 1.0


def to_pixels(unit: Tensor) -> Tensor:
    """The networks' scale [-1, 1] back to pixel values in [0, 16]."""
    return (unit + 1.0) * 8.0


def _check_rows(x: Tensor) -> Tensor:
    if x.dim() != 2 or x.shape[1] != 64:
        raise ValueError(f"x must have shape (B, 64) (flattened 8x8 images), got {tuple(x.shape)}")
    return x


class ConvGenerator(nn.Module):
    r"""Noise :math:`z \in \mathbb R^{d_z}` to an 8x8 image on the scale [-1, 1], returned
    flattened as ``(B, 64)``: linear to ``(B, 2c, 2, 2)``, two transposed convolutions
    that double the side (2 → 4 → 8), ``tanh`` output."""

    def __init__(self, latent_dim: int = 16, channels: int = 32):
        super().__init__()
        if latent_dim < 1 or channels < 1:
            raise ValueError(f"latent_dim and channels must be >= 1, got {latent_dim}, {channels}")
        self.latent_dim, self.channels = latent_dim, channels
        self.fc = nn.Linear(latent_dim, 2 * channels * 4)
        self.up1 = nn.ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1)
        self.up2 = nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1)
        self.out = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, z: Tensor) -> Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        h = F.leaky_relu(self.fc(z), 0.2).view(-1, 2 * self.channels, 2, 2)  # (B, 2c, 2, 2)
        h = F.leaky_relu(self.up1(h), 0.2)  # (B, c, 4, 4)
        h = F.leaky_relu(self.up2(h), 0.2)  # (B, c, 8, 8)
        return torch.tanh(self.out(h)).flatten(1)  # (B, 64)

    def noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        r"""``n`` draws of :math:`z \sim \mathcal N(0, I)`, shape ``(n, latent_dim)``, on the CPU."""
        return torch.randn(n, self.latent_dim, generator=generator)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` images on the scale [-1, 1], shape ``(n, 64)``."""
        device = next(self.parameters()).device
        return self(self.noise(n, generator).to(device))


class ConvDiscriminator(nn.Module):
    """Flattened 8x8 images ``(B, 64)`` on the scale [-1, 1] to one logit each, ``(B,)``:
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


class DigitClassifier(nn.Module):
    """Small CNN for the ten digit classes; :meth:`features` is its penultimate layer
    ``(B, feature_dim)``, the space where the Fréchet distance is measured.
    Input: pixel values in [0, 16], shape ``(B, 64)``."""

    def __init__(self, channels: int = 16, feature_dim: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, padding=1)
        self.fc = nn.Linear(2 * channels * 4, feature_dim)
        self.head = nn.Linear(feature_dim, 10)

    def features(self, pixels: Tensor) -> Tensor:
        h = to_unit(_check_rows(pixels)).view(-1, 1, 8, 8)  # (B, 1, 8, 8)
        h = F.max_pool2d(F.relu(self.conv1(h)), 2)  # (B, c, 4, 4)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)  # (B, 2c, 2, 2)
        return F.relu(self.fc(h.flatten(1)))  # (B, feature_dim)

    def forward(self, pixels: Tensor) -> Tensor:
        return self.head(self.features(pixels))  # (B, 10) class logits


CLASSIFIER_CONFIG = TrainConfig(steps=800, batch_size=100, lr=2e-3, val_every=100, desc="classifier")


def train_classifier(
    train_x: Tensor, train_y: Tensor, val_x: Tensor, val_y: Tensor, config: TrainConfig = CLASSIFIER_CONFIG
) -> tuple[DigitClassifier, History]:
    """Train a :class:`DigitClassifier` by cross-entropy with :func:`tutorial_lib.train.fit`,
    keeping the parameters with the lowest validation error rate."""
    torch.manual_seed(config.seed)
    model = DigitClassifier().to(train_x.device)
    data = torch.cat([train_x, train_y[:, None].to(train_x.dtype)], 1)  # (N, 65): pixels, label

    def loss_fn(m: nn.Module, batch: Tensor) -> Tensor:
        return F.cross_entropy(m(batch[:, :64]), batch[:, 64].long())

    def val_fn(m: nn.Module) -> float:
        return float((m(val_x).argmax(1) != val_y).float().mean())

    history = fit(model, loss_fn, data, config, val_fn=val_fn)
    return model, history


class IndependentPixels:
    r"""Baseline :math:`q(x) = \prod_{j=1}^{64} q_j(x_j)`: each pixel drawn independently
    from its empirical histogram over the 17 levels on the training images (with add-one
    smoothing)."""

    def __init__(self, train_pixels: Tensor, levels: int = 17):
        x = _check_rows(train_pixels).round().long().clamp(0, levels - 1)
        counts = F.one_hot(x, levels).sum(0).double() + 1.0  # (64, levels)
        self.probs = counts / counts.sum(1, keepdim=True)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` images of pixel values, shape ``(n, 64)``."""
        idx = torch.multinomial(self.probs, n, replacement=True, generator=generator)  # (64, n)
        return idx.T.float()


@dataclass(frozen=True)
class DigitsGANConfig:
    """Architecture (``latent_dim``, ``channels``) and training settings (``train``) of the
    digits GAN; ``snapshot_every`` is how often the chapter stores a grid of samples."""

    latent_dim: int = 16
    channels: int = 32
    spectral_norm: bool = True
    train: GANConfig = GANConfig(
        steps=1500, batch_size=64, r1=0.0, lr=5e-4, betas=(0.5, 0.999), lr_final=0.1, decay_fraction=0.3
    )

    def build(self) -> tuple[ConvGenerator, ConvDiscriminator]:
        """A fresh generator and discriminator."""
        return ConvGenerator(self.latent_dim, self.channels), ConvDiscriminator(self.channels, self.spectral_norm)


DIGITS_GAN_CONFIG = DigitsGANConfig()
