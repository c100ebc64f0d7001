r"""The digits-GAN chapter: the convolutional GAN's architecture and training settings."""

from __future__ import annotations

from dataclasses import dataclass

from ..gan.networks import ConvDiscriminator, ConvGenerator
from ..gan.training import GANConfig

__all__ = ["DigitsGANConfig", "DIGITS_GAN_CONFIG"]


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
