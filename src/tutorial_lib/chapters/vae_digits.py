r"""The digits-VAE chapter: a VAE with a categorical decoder on the 8x8 digits.

:data:`CONFIG` fixes the model, the training run with model selection on validation,
the evaluation on the test split and the posterior-collapse experiment;
:func:`train_digits_vae` and :func:`evaluate_digits_vae` are the runs that the chapter
shows, the ``vae`` benchmark reports (over several seeds) and the tests shrink.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from ..train import History, TrainConfig, fit
from ..utils import seed_everything
from ..vae.model import VAE, VAEConfig, build_vae
from ..vae.objectives import elbo, iwae_log_likelihood

__all__ = [
    "VAEDigitsConfig",
    "CONFIG",
    "DigitsEvaluation",
    "negative_elbo",
    "train_digits_vae",
    "evaluate_digits_vae",
]


def _is_pos_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


@dataclass(frozen=True)
class VAEDigitsConfig:
    """The chapter's runs. ``model`` is trained with ``train`` (validation
    :math:`-\\mathrm{ELBO}` with ``val_samples`` samples every ``train.val_every``
    steps, best parameters kept) after seeding with ``seed``. Evaluation seeds with
    ``eval_seed`` and estimates the :math:`-\\mathrm{ELBO}` with ``elbo_samples``
    samples and the importance-weighted NLL with ``k`` samples. The posterior-collapse
    section trains the same model with the weight ``beta`` on the KL term, counts
    dimensions whose average KL exceeds ``active_threshold`` nats and compares NLLs
    with ``k_collapse`` samples."""

    model: VAEConfig = VAEConfig(
        data_dim=64, latent_dim=16, hidden=512, layers=1, likelihood="categorical"
    )
    train: TrainConfig = TrainConfig(
        steps=500, batch_size=100, lr=1e-3, cosine=True, val_every=50, desc="vae-digits"
    )
    seed: int = 0
    val_samples: int = 10
    elbo_samples: int = 100
    k: int = 1000
    eval_seed: int = 1
    beta: float = 4.0
    active_threshold: float = 0.1
    k_collapse: int = 100

    def __post_init__(self) -> None:
        if not isinstance(self.model, VAEConfig) or self.model.data_dim != 64:
            raise ValueError(
                f"model must be a VAEConfig with data_dim=64, got {self.model!r}"
            )
        if self.model.likelihood == "gaussian":
            raise ValueError(
                "model must have a discrete likelihood (categorical or logistic)"
            )
        if not isinstance(self.train, TrainConfig) or self.train.val_every < 1:
            raise ValueError(
                f"train must be a TrainConfig with val_every >= 1, got {self.train!r}"
            )
        for name in ("val_samples", "elbo_samples", "k", "k_collapse"):
            if not _is_pos_int(getattr(self, name)):
                value = getattr(self, name)
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name in ("seed", "eval_seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        if not (math.isfinite(self.beta) and self.beta > 0):
            raise ValueError(f"beta must be a positive number, got {self.beta!r}")
        if not self.active_threshold > 0:
            value = self.active_threshold
            raise ValueError(f"active_threshold must be > 0, got {value!r}")


#: The chapter's configuration.
CONFIG = VAEDigitsConfig()


def _check_config(config: object) -> VAEDigitsConfig:
    if not isinstance(config, VAEDigitsConfig):
        name = type(config).__name__
        raise ValueError(f"config must be a VAEDigitsConfig, got {name}")
    return config


def _check_pixels(x: object, name: str) -> Tensor:
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != 64 or len(x) < 1:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a (N, 64) tensor of pixels, got {shape}")
    return x


def negative_elbo(model: VAE, x: Tensor, beta: float = 1.0) -> Tensor:
    """The training loss: the one-sample reparameterised :math:`-\\mathrm{ELBO}` (with
    weight ``beta`` on the KL term), averaged over the rows of ``x``."""
    return -elbo(model, x, beta=beta).elbo.mean()


def train_digits_vae(
    x_train: Tensor,
    x_val: Tensor,
    config: VAEDigitsConfig = CONFIG,
    beta: float = 1.0,
    seed: int | None = None,
) -> tuple[VAE, History]:
    """Seed with ``seed`` (default ``config.seed``; it also seeds the minibatch order),
    build the model on ``x_train``'s device and train it on the β-weighted
    :math:`-\\mathrm{ELBO}`, keeping the parameters with the best validation value of
    the same objective (``config.val_samples`` samples)."""
    _check_config(config)
    _check_pixels(x_train, "x_train")
    _check_pixels(x_val, "x_val")
    seed = config.seed if seed is None else seed
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if not (isinstance(beta, (int, float)) and math.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be a positive number, got {beta!r}")
    seed_everything(seed)
    model = build_vae(config.model, x_train.device)
    train = replace(config.train, seed=seed)
    n = config.val_samples

    def validation(m: VAE) -> float:
        return float(-elbo(m, x_val, beta=beta, n_samples=n).elbo.mean())

    loss = lambda m, x: negative_elbo(m, x, beta)  # noqa: E731
    history = fit(model, loss, x_train, train, val_fn=validation)
    return model, history


@dataclass(frozen=True)
class DigitsEvaluation:
    """Nats per image: test :math:`-\\mathrm{ELBO}` ``nelbo = reconstruction + kl``, the
    importance-weighted test NLL ``nll`` with the standard error ``nll_se`` over images
    (``per_image``: the ``k``-sample estimates of :math:`\\log p(x)`), and the
    validation :math:`-\\mathrm{ELBO}` ``val_nelbo``."""

    nelbo: float
    reconstruction: float
    kl: float
    nll: float
    nll_se: float
    val_nelbo: float
    k: int
    per_image: Tensor

    def __post_init__(self) -> None:
        if not _is_pos_int(self.k):
            raise ValueError(f"k must be a positive int, got {self.k!r}")
        if not isinstance(self.per_image, Tensor) or self.per_image.ndim != 1:
            raise ValueError(f"per_image must be a 1-D tensor, got {self.per_image!r}")


def evaluate_digits_vae(
    model: VAE,
    x_val: Tensor,
    x_test: Tensor,
    config: VAEDigitsConfig = CONFIG,
    eval_seed: int | None = None,
) -> DigitsEvaluation:
    """Seed with ``eval_seed`` (default ``config.eval_seed``), then estimate the test
    and validation :math:`-\\mathrm{ELBO}` (``elbo_samples`` samples) and the test NLL
    (importance-weighted, ``k`` samples), in that order."""
    _check_config(config)
    if not isinstance(model, VAE):
        raise ValueError(f"model must be a VAE, got {type(model).__name__}")
    _check_pixels(x_val, "x_val")
    _check_pixels(x_test, "x_test")
    eval_seed = config.eval_seed if eval_seed is None else eval_seed
    if not isinstance(eval_seed, int) or isinstance(eval_seed, bool) or eval_seed < 0:
        raise ValueError(f"eval_seed must be a non-negative int, got {eval_seed!r}")
    torch.manual_seed(eval_seed)
    with torch.no_grad():
        terms = elbo(model, x_test, n_samples=config.elbo_samples)
        val = elbo(model, x_val, n_samples=config.elbo_samples).elbo.mean()
    log_p = iwae_log_likelihood(model, x_test, config.k)  # (N,)
    return DigitsEvaluation(
        nelbo=float(-terms.elbo.mean()),
        reconstruction=float(-terms.reconstruction.mean()),
        kl=float(terms.kl.mean()),
        nll=float(-log_p.mean()),
        nll_se=float(log_p.std() / math.sqrt(len(log_p))),
        val_nelbo=float(-val),
        k=config.k,
        per_image=log_p,
    )
