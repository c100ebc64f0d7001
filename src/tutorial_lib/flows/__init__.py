"""The flows part: the layer interface and :class:`Flow` (:mod:`.base`), coupling
layers (:mod:`.coupling`), rational-quadratic splines (:mod:`.splines`), masked
autoregressive layers (:mod:`.maf`), architectures built from a configuration
(:mod:`.build`) and flows on discrete data (:mod:`.dequantization`)."""

from .base import ActNorm, Flow, Permutation, Transform, check_dim, nll_loss
from .build import FLOW_KINDS, FlowConfig, build_flow
from .coupling import AffineCoupling, SplineCoupling, alternating_masks, check_mask
from .dequantization import LogitTransform, build_dequantized_flow
from .maf import MaskedAutoregressive
from .splines import rq_spline, spline_params

__all__ = [
    "Transform",
    "Permutation",
    "ActNorm",
    "Flow",
    "nll_loss",
    "check_dim",
    "AffineCoupling",
    "SplineCoupling",
    "alternating_masks",
    "check_mask",
    "rq_spline",
    "spline_params",
    "MaskedAutoregressive",
    "FlowConfig",
    "build_flow",
    "FLOW_KINDS",
    "LogitTransform",
    "build_dequantized_flow",
]
