r"""The digits-VAE chapter: the model and its training settings."""

from __future__ import annotations

from ..train import TrainConfig
from ..vae.model import VAEConfig

__all__ = ["DIGITS_CONFIG", "DIGITS_TRAIN"]


DIGITS_CONFIG = VAEConfig(data_dim=64, latent_dim=16, hidden=512, layers=1, likelihood="categorical")


DIGITS_TRAIN = TrainConfig(
    steps=500, batch_size=100, lr=1e-3, cosine=True, val_every=50, desc="vae-digits"
)
