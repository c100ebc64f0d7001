r"""A VAE whose prior is a normalizing flow (a hybrid of the two families).

The prior :math:`p(z) = \mathcal N(0, I)` of a :class:`~.model.VAE` is replaced by a
learned density :math:`p_\lambda(z)`: a flow :math:`f_\lambda` maps a latent :math:`z`
to base noise :math:`u = f_\lambda(z)` and, by the change of variables formula,

.. math::
    \log p_\lambda(z) = \log \mathcal N(f_\lambda(z); 0, I)
        + \log\left|\det \frac{\partial f_\lambda(z)}{\partial z}\right| .

The KL term of the ELBO has no closed form any more; its Monte Carlo estimate
:math:`\log q_\phi(z\mid x) - \log p_\lambda(z)` at the reparameterised draws keeps the
ELBO unbiased and a lower bound on :math:`\log p_\theta(x)` (the bound holds for any
normalised prior). An autoregressive flow in the density direction (MAF) evaluates
:math:`\log p_\lambda(z)` in one network pass, which is what training needs; sampling
runs the inverse. Learned priors: Chen et al. 2017 (arXiv:1611.02731, an autoregressive
flow prior), Tomczak & Welling 2018 (arXiv:1705.07120, VampPrior); the flows themselves:
Papamakarios et al. 2017 (arXiv:1705.07057), Durkan et al. 2019 (arXiv:1906.04032).

:func:`~.objectives.elbo` and :func:`~.objectives.iwae_log_likelihood` work unchanged
on a :class:`FlowPriorVAE`: its ``prior()`` is a ``torch.distributions`` object without
a registered KL, so ``elbo`` falls back to the Monte Carlo KL.
"""

from __future__ import annotations

import torch
from torch import Size, Tensor
from torch.distributions import Distribution, constraints

from ..flows.base import Flow
from ..flows.build import FlowConfig, build_flow
from .model import VAE, VAEConfig

__all__ = ["FlowDistribution", "FlowPriorVAE", "build_flow_prior_vae"]


class FlowDistribution(Distribution):
    r"""The density of a :class:`~tutorial_lib.flows.Flow` as a ``torch.distributions``
    object with event shape ``(dim,)``: ``log_prob`` accepts latents of shape
    ``(..., dim)`` (the flow sees them flattened to ``(N, dim)``) and is
    differentiable in the flow's parameters; ``rsample`` runs the inverse flow on
    standard normal noise."""

    arg_constraints: dict = {}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, flow: Flow):
        if not isinstance(flow, Flow):
            raise ValueError(f"flow must be a Flow, got {type(flow).__name__}")
        self.flow = flow
        super().__init__(event_shape=Size([flow.dim]), validate_args=False)

    def log_prob(self, value: Tensor) -> Tensor:
        r""":math:`\log p_\lambda(z)`, shape ``value.shape[:-1]``."""
        dim = self.flow.dim
        if not isinstance(value, Tensor) or value.ndim < 1 or value.shape[-1] != dim:
            shape = tuple(value.shape) if isinstance(value, Tensor) else value
            raise ValueError(f"value must be a (..., {dim}) tensor, got {shape}")
        flat = value.reshape(-1, dim)  # (N, dim)
        return self.flow.log_prob(flat).reshape(value.shape[:-1])

    def rsample(
        self, sample_shape: Size | tuple[int, ...] = Size(),
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Draws of shape ``sample_shape + (dim,)``: :math:`z = f_\\lambda^{-1}(u)`,
        :math:`u \\sim \\mathcal N(0, I)` (from ``generator`` or the global state)."""
        shape = Size(sample_shape)
        n, dim, base = shape.numel(), self.flow.dim, self.flow.base_loc
        u = torch.randn(n, dim, generator=generator, dtype=base.dtype)  # (n, dim)
        return self.flow.inverse(u.to(base.device)).reshape(*shape, dim)


class FlowPriorVAE(VAE):
    r"""A :class:`~.model.VAE` with the flow prior :math:`p_\lambda(z)` of the module
    docstring; encoder, decoder and likelihoods are the VAE's own. ``flow=None`` gives
    the identity flow (no layers), whose prior is exactly :math:`\mathcal N(0, I)`.
    The encoder and decoder are initialised before the flow, so that with the same
    seed they start from the same weights as a plain :class:`~.model.VAE`."""

    def __init__(self, config: VAEConfig, flow: FlowConfig | None = None):
        super().__init__(config)
        if flow is not None and not isinstance(flow, FlowConfig):
            raise ValueError(
                f"flow must be a FlowConfig or None, got {type(flow).__name__}"
            )
        dim = config.latent_dim
        self.flow_config = flow
        self.prior_flow = Flow([], dim) if flow is None else build_flow(flow, dim)

    def prior(self) -> FlowDistribution:  # type: ignore[override]
        r"""The flow prior :math:`p_\lambda(z)` (a :class:`FlowDistribution`)."""
        return FlowDistribution(self.prior_flow)

    @torch.no_grad()
    def sample(
        self, n: int, generator: torch.Generator | None = None, mean: bool = False
    ) -> Tensor:
        """``n`` samples :math:`x \\sim p_\\theta(x)` with :math:`z \\sim
        p_\\lambda(z)`; ``mean=True`` returns the decoder's expected pixel values."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        z = self.prior().rsample((n,), generator=generator)  # (n, latent)
        return self.decode(z, mean=mean, generator=generator)


def build_flow_prior_vae(
    config: VAEConfig,
    flow: FlowConfig | None,
    device: torch.device | str | None = None,
) -> FlowPriorVAE:
    """A freshly initialised :class:`FlowPriorVAE` on ``device`` (initialised from the
    global seed: encoder and decoder first, as :func:`~.model.build_vae` does)."""
    if not isinstance(config, VAEConfig):
        raise ValueError(f"config must be a VAEConfig, got {type(config).__name__}")
    model = FlowPriorVAE(config, flow)
    return model.to(device if device is not None else "cpu")
