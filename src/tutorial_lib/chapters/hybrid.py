r"""The hybrid chapter: the digits VAE with a normalizing-flow prior.

:data:`CONFIG` fixes the hybrid: the encoder, decoder and training recipe of the digits
VAE (:mod:`.vae_digits`) with the standard normal prior replaced by a flow prior
:math:`p_\lambda(z)` (:class:`~tutorial_lib.vae.flow_prior.FlowPriorVAE`), and the
evaluation of the digits chapter (``evaluation``: importance-weighted test NLL with
:math:`k` samples), so that the two models are measured in the same way.
:func:`train_hybrid_vae` is the run that the chapter shows, the ``hybrid`` benchmark
reports and the tests shrink; ``prior="normal"`` trains the same model with the
identity flow, the standard normal prior, as a control.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor

from ..autoregressive import ARConfig
from ..flows.build import FlowConfig
from ..train import History, TrainConfig, fit
from ..utils import seed_everything
from ..vae.ar_decoder import build_ar_decoder_vae
from ..vae.flow_prior import FlowPriorVAE, build_flow_prior_vae
from ..vae.model import VAEConfig
from ..vae.objectives import elbo, iwae_bound, iwae_log_likelihood
from . import autoregressive, vae_digits
from .vae_digits import VAEDigitsConfig, _check_pixels, negative_elbo

__all__ = [
    "HybridConfig",
    "CONFIG",
    "VLAE",
    "PRIORS",
    "train_hybrid_vae",
    "train_decoder_alone",
]

#: The priors :func:`train_hybrid_vae` can train with.
PRIORS = ("flow", "normal")


def _is_nonneg_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True)
class HybridConfig:
    """The chapter's runs. ``model`` (the digits VAE's architecture) gets the prior
    ``flow`` and is trained with ``train`` on the :math:`-\\mathrm{ELBO}` whose KL term
    is weighted by :math:`\\min(1, t / \\text{warmup})` at step :math:`t` (KL warm-up;
    0: none), after seeding with ``seed``; the parameters with the best validation
    :math:`-\\mathrm{ELBO}` (``val_samples`` samples, every ``train.val_every`` steps)
    are kept. ``train_k > 1`` trains on the importance-weighted bound with ``train_k``
    samples instead (Burda et al. 2016, arXiv:1509.00519; no warm-up), and
    ``val_k > 0`` selects on the importance-weighted validation NLL with ``val_k``
    samples. ``evaluation`` is the digits chapter's configuration, whose ``k``,
    ``elbo_samples`` and ``eval_seed`` the evaluation uses. ``decoder``, when set (an
    ``ARConfig`` of kind ``"gated"``), replaces the MLP decoder by a conditional gated
    PixelCNN of that architecture (:class:`~tutorial_lib.vae.ar_decoder.ARDecoderVAE`).
    """

    model: VAEConfig = vae_digits.CONFIG.model
    flow: FlowConfig = FlowConfig("spline_ar", layers=2, hidden=64)
    train: TrainConfig = vae_digits.CONFIG.train
    warmup: int = 0
    seed: int = 0
    val_samples: int = 10
    train_k: int = 1
    val_k: int = 0
    evaluation: VAEDigitsConfig = vae_digits.CONFIG
    decoder: ARConfig | None = None

    def __post_init__(self) -> None:
        if self.decoder is not None and (
            not isinstance(self.decoder, ARConfig) or self.decoder.kind != "gated"
        ):
            raise ValueError(
                f"decoder must be None or an ARConfig of kind 'gated', "
                f"got {self.decoder!r}"
            )
        if not isinstance(self.evaluation, VAEDigitsConfig):
            raise ValueError(
                f"evaluation must be a VAEDigitsConfig, got {self.evaluation!r}"
            )
        replace(self.evaluation, model=self.model)  # the digits chapter's model checks
        if not isinstance(self.flow, FlowConfig):
            raise ValueError(f"flow must be a FlowConfig, got {self.flow!r}")
        if not isinstance(self.train, TrainConfig) or self.train.val_every < 1:
            raise ValueError(
                f"train must be a TrainConfig with val_every >= 1, got {self.train!r}"
            )
        for name in ("warmup", "seed", "val_k"):
            if not _is_nonneg_int(getattr(self, name)):
                value = getattr(self, name)
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        for name in ("val_samples", "train_k"):
            value = getattr(self, name)
            if not _is_nonneg_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")


#: The chapter's configuration.
CONFIG = HybridConfig()

#: The variational lossy autoencoder of the chapter (Chen et al. 2017): the flow-prior
#: VAE with a two-layer conditional gated PixelCNN as decoder, trained with the
#: autoregressive chapter's recipe (steps, batch, learning rate) and a KL warm-up;
#: importance-weighted evaluation with k = 100 and the ELBO with 10 samples (every sample
#: costs a PixelCNN pass).
VLAE = replace(
    CONFIG,
    decoder=ARConfig("gated", width=32, depth=2),
    train=replace(autoregressive.CONFIG.train, desc="vlae"),
    warmup=400,
    val_samples=4,
    evaluation=replace(vae_digits.CONFIG, k=100, elbo_samples=10),
)


def train_hybrid_vae(
    x_train: Tensor,
    x_val: Tensor,
    config: HybridConfig = CONFIG,
    prior: str = "flow",
    seed: int | None = None,
) -> tuple[FlowPriorVAE, History]:
    r"""Seed with ``seed`` (default ``config.seed``; it also seeds the minibatch
    order), build the model on ``x_train``'s device with the prior ``prior``
    (``"flow"``: ``config.flow``; ``"normal"``: the identity flow, i.e.
    :math:`\mathcal N(0, I)`) and train it on the :math:`-\mathrm{ELBO}` with KL
    warm-up (or on the importance-weighted bound, ``config.train_k``), keeping the
    parameters with the best validation value.
    The ELBO's KL term is the Monte Carlo estimate
    :math:`\log q_\phi(z\mid x) - \log p_\lambda(z)` at the reparameterised draw."""
    if not isinstance(config, HybridConfig):
        name = type(config).__name__
        raise ValueError(f"config must be a HybridConfig, got {name}")
    _check_pixels(x_train, "x_train")
    _check_pixels(x_val, "x_val")
    if prior not in PRIORS:
        raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")
    seed = config.seed if seed is None else seed
    if not _is_nonneg_int(seed):
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    seed_everything(seed)
    flow = config.flow if prior == "flow" else None
    if config.decoder is None:
        model = build_flow_prior_vae(config.model, flow, x_train.device)
    else:
        model = build_ar_decoder_vae(config.model, flow, config.decoder, x_train.device)
    train = replace(config.train, seed=seed, desc=f"hybrid-{prior}")
    n, warmup, calls = config.val_samples, config.warmup, [0]

    def loss(m: FlowPriorVAE, x: Tensor) -> Tensor:
        if config.train_k > 1:
            return -iwae_bound(m, x, config.train_k).mean()
        calls[0] += 1  # one call per optimizer step
        beta = min(1.0, calls[0] / warmup) if warmup else 1.0
        return negative_elbo(m, x, beta)

    def validation(m: FlowPriorVAE) -> float:
        if config.val_k:
            return float(-iwae_log_likelihood(m, x_val, config.val_k).mean())
        return float(-elbo(m, x_val, n_samples=n).elbo.mean())

    history = fit(model, loss, x_train, train, val_fn=validation)
    return model, history


def train_decoder_alone(
    x_train: Tensor, x_val: Tensor, config: HybridConfig = VLAE
) -> tuple[torch.nn.Module, History]:
    """The control of the VLAE: its decoder's architecture ``config.decoder`` without
    a latent code, an unconditional gated PixelCNN trained by the autoregressive
    chapter's recipe (:func:`~tutorial_lib.chapters.autoregressive.train_model`, its
    configuration and seed)."""
    if not isinstance(config, HybridConfig) or config.decoder is None:
        raise ValueError(
            f"config must be a HybridConfig with a decoder, got {config!r}"
        )
    _check_pixels(x_train, "x_train")
    _check_pixels(x_val, "x_val")
    return autoregressive.train_model(
        autoregressive.CONFIG, config.decoder, x_train, x_val
    )
