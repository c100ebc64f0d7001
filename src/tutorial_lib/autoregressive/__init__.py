"""The autoregressive part: the chain rule as a model (:mod:`.base`), MADE with
categorical or Gaussian conditionals (:mod:`.made`), the plain and the gated PixelCNN
(:mod:`.pixelcnn`), architectures from a configuration (:mod:`.build`) and the
autograd check of which pixels each conditional sees (:mod:`.receptive`)."""

from .base import (
    AutoregressiveModel,
    OrderMixture,
    check_order,
    all_configurations,
    check_pixels,
    exact_nll,
    nll_loss,
)
from .build import AR_KINDS, ARConfig, build_ar
from .made import CategoricalMADE, GaussianMADE
from .pixelcnn import GatedPixelCNN, MaskedConv2d, PixelCNN, pixelcnn_mask
from .receptive import dependencies, receptive_field

__all__ = [
    "AutoregressiveModel",
    "OrderMixture",
    "check_order",
    "check_pixels",
    "nll_loss",
    "exact_nll",
    "all_configurations",
    "CategoricalMADE",
    "GaussianMADE",
    "pixelcnn_mask",
    "MaskedConv2d",
    "PixelCNN",
    "GatedPixelCNN",
    "AR_KINDS",
    "ARConfig",
    "build_ar",
    "dependencies",
    "receptive_field",
]
