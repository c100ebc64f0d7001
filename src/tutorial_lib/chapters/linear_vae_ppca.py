r"""The linear-VAE chapter: the data and the training settings of the linear VAE."""

from __future__ import annotations

from ..data.linear_gaussian import LinearDataConfig

__all__ = ["LINEAR_DATA", "LINEAR_VAE_STEPS", "LINEAR_VAE_LR"]


LINEAR_DATA = LinearDataConfig()


LINEAR_VAE_STEPS = 3000  # full-batch Adam steps of the linear-VAE chapter


LINEAR_VAE_LR = 0.02
