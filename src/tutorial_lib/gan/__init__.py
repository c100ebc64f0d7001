"""The GAN part: the players (:mod:`.networks`), the losses (:mod:`.losses`) and the
training step and loop (:mod:`.training`)."""

from .losses import GENERATOR_LOSSES, discriminator_loss, generator_loss, r1_penalty
from .networks import (
    OUTPUTS,
    PRIORS,
    ConvDiscriminator,
    ConvGenerator,
    MLPDiscriminator,
    MLPGenerator,
)
from .training import GANConfig, gan_step, generate, train_gan

__all__ = [
    "MLPGenerator",
    "MLPDiscriminator",
    "ConvGenerator",
    "ConvDiscriminator",
    "PRIORS",
    "OUTPUTS",
    "GENERATOR_LOSSES",
    "discriminator_loss",
    "generator_loss",
    "r1_penalty",
    "GANConfig",
    "gan_step",
    "train_gan",
    "generate",
]
