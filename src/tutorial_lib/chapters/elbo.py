r"""The ELBO chapter: the source article's VAE on 2-D Gaussian data."""

from __future__ import annotations

from ..train import TrainConfig
from ..vae.model import VAEConfig

__all__ = ["GAUSS2D_CONFIG", "GAUSS2D_TRAIN"]


# Configurations used by the chapters and the benchmark (one source of truth).
GAUSS2D_CONFIG = VAEConfig(data_dim=2, latent_dim=2, hidden=64, layers=2, likelihood="gaussian")


GAUSS2D_TRAIN = TrainConfig(steps=1000, batch_size=128, lr=3e-3, cosine=True, desc="vae-2d")
