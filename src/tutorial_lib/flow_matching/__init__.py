"""Flow matching: Gaussian probability paths with their exact vector fields
(:mod:`.paths`), the velocity network, the conditional flow-matching loss and the
continuous flow that a velocity field defines (:mod:`.model`), and training
(:mod:`.training`). The ODE solvers and the exact-trace likelihood are the flows
part's (:mod:`tutorial_lib.flows.continuous`)."""

from .model import (
    NETS,
    PATHS,
    ContinuousFlow,
    ConvVelocityField,
    FMConfig,
    VelocityField,
    build_path,
    cfm_loss,
    sample_times,
    standard_normal_log_prob,
    velocity_field,
)
from .paths import CondOTPath, GaussianPath, VPPath, mixture_log_prob, mixture_velocity
from .training import train_velocity

__all__ = [
    "GaussianPath",
    "CondOTPath",
    "VPPath",
    "mixture_velocity",
    "mixture_log_prob",
    "FMConfig",
    "PATHS",
    "NETS",
    "VelocityField",
    "ConvVelocityField",
    "velocity_field",
    "build_path",
    "sample_times",
    "cfm_loss",
    "standard_normal_log_prob",
    "ContinuousFlow",
    "train_velocity",
]
