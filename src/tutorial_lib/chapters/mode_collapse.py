r"""The mode-collapse chapter: the plain GAN and the remedy on the ring and grid mixtures."""

from __future__ import annotations

from ..gan.training import GANConfig

__all__ = ["PLAIN_RING", "PLAIN_GRID", "R1_RING", "R1_GRID", "GAN2D_CONFIGS", "REMEDY"]


#: Plain non-saturating GANs: Gaussian noise, Adam with the DCGAN betas (0.5, 0.999),
#: constant learning rate, no remedy.
PLAIN_RING = GANConfig(steps=8000)


PLAIN_GRID = GANConfig(steps=10000)


#: The remedy on the ring: the (lazy) R1 penalty, Adam without momentum (betas (0, 0.99)
#: as in StyleGAN2; the R1 paper trains with RMSProp, which has no momentum either), uniform
#: noise and a learning-rate decay over the last 60 % of training.
R1_RING = GANConfig(
    steps=8000, r1=0.01, r1_every=4, prior="uniform", betas=(0.0, 0.99), lr_final=0.003, decay_fraction=0.6
)


#: The same remedy on the grid, with the output scaled to the grid's spread.
R1_GRID = GANConfig(
    steps=10000, r1=0.01, r1_every=4, prior="uniform", betas=(0.0, 0.99), out_scale=4.0, lr_final=0.01,
    decay_fraction=0.5,
)


#: The chapter's configurations, by (dataset, method).
GAN2D_CONFIGS: dict[tuple[str, str], GANConfig] = {
    ("ring", "GAN"): PLAIN_RING,
    ("grid", "GAN"): PLAIN_GRID,
    ("ring", "R1"): R1_RING,
    ("grid", "R1"): R1_GRID,
}


#: The remedy's name on each dataset.
REMEDY = {"ring": "R1", "grid": "R1"}
