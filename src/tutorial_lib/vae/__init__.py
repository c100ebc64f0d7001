"""The VAE part: the model (:mod:`.model`), its objectives (:mod:`.objectives`) and
the linear VAE with probabilistic PCA (:mod:`.linear`)."""

from .linear import LinearVAE, ppca_fit, ppca_max_log_likelihood
from .model import VAE, DiscretizedLogistic, VAEConfig, build_vae
from .objectives import (
    ElboTerms,
    elbo,
    iwae_bound,
    iwae_log_likelihood,
    kl_per_dimension,
    kl_standard_normal,
)

__all__ = [
    "VAEConfig",
    "VAE",
    "DiscretizedLogistic",
    "build_vae",
    "ElboTerms",
    "elbo",
    "kl_standard_normal",
    "kl_per_dimension",
    "iwae_bound",
    "iwae_log_likelihood",
    "LinearVAE",
    "ppca_fit",
    "ppca_max_log_likelihood",
]
