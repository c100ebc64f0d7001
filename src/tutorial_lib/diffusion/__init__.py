"""The diffusion part: the forward process and its posterior (:mod:`.schedule`),
denoisers (:mod:`.networks`), the variational bound term by term (:mod:`.objectives`),
ancestral and probability-flow sampling, the score and the probability-flow likelihood
(:mod:`.sampling`) and training (:mod:`.training`)."""

from .networks import (
    DiscreteDenoiser,
    MLPDenoiser,
    empirical_logits,
    grid_values,
    logsnr_features,
)
from .objectives import (
    decoder_log_probs,
    diffusion_loss,
    discrete_diffusion_loss,
    elbo_terms,
    prior_kl,
    stratified_times,
    x_from_eps,
)
from .sampling import (
    ancestral_sample,
    pf_ode_log_prob,
    pf_ode_sample,
    pf_ode_velocity,
    score,
    tweedie,
)
from .schedule import LogSNRSchedule, alpha_sigma, posterior, q_sample, transition
from .training import train_denoiser

__all__ = [
    "LogSNRSchedule",
    "alpha_sigma",
    "q_sample",
    "transition",
    "posterior",
    "logsnr_features",
    "grid_values",
    "empirical_logits",
    "MLPDenoiser",
    "DiscreteDenoiser",
    "stratified_times",
    "x_from_eps",
    "decoder_log_probs",
    "prior_kl",
    "diffusion_loss",
    "discrete_diffusion_loss",
    "elbo_terms",
    "score",
    "tweedie",
    "ancestral_sample",
    "pf_ode_velocity",
    "pf_ode_sample",
    "pf_ode_log_prob",
    "train_denoiser",
]
