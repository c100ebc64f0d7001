"""The flows part: the layer interface and :class:`Flow` (:mod:`.base`), coupling
layers (:mod:`.coupling`), rational-quadratic splines (:mod:`.splines`), masked
autoregressive layers (:mod:`.maf`), architectures built from a configuration
(:mod:`.build`), flows on discrete data (:mod:`.dequantization`) and continuous flows,
fixed-step ODE solvers with the exact instantaneous change of variables
(:mod:`.continuous`)."""

from .base import ActNorm, Flow, Permutation, Transform, check_dim, nll_loss
from .continuous import ODE_METHODS, divergence, nfe, ode_log_prob, odeint
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
    "ODE_METHODS",
    "nfe",
    "odeint",
    "divergence",
    "ode_log_prob",
]
