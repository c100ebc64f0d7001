r"""A VAE with an autoregressive decoder and a flow prior (a hybrid of three families).

The decoder :math:`p_\theta(x\mid z) = \prod_i p_\theta(x_i \mid x_{<i}, z)` is a gated
PixelCNN (:class:`~tutorial_lib.autoregressive.GatedPixelCNN`) whose gates also receive
the latent code, as in the conditional PixelCNN of van den Oord et al. (2016b,
arXiv:1606.05328): every gated layer adds :math:`V z` to the pre-activations of both
stacks. The prior is the flow prior of :mod:`.flow_prior`. With a decoder whose
receptive field is small, the latent is left to carry what the decoder cannot see: the
variational lossy autoencoder of Chen et al. (2017, arXiv:1611.02731).

The ELBO and the importance-weighted bound of :mod:`.objectives` run unchanged: the
decoder's distribution evaluates :math:`\log p_\theta(x\mid z)` in one teacher-forced
pass for every draw of :math:`z`. Sampling an image costs one pass per pixel.
"""

from __future__ import annotations

import torch
from torch import Size, Tensor, nn
from torch.distributions import Categorical, Distribution

from ..autoregressive.build import ARConfig
from ..autoregressive.pixelcnn import GatedPixelCNN
from ..flows.build import FlowConfig
from .flow_prior import FlowPriorVAE
from .model import VAEConfig

__all__ = [
    "ConditionalGatedPixelCNN",
    "ARLikelihood",
    "ARDecoderVAE",
    "build_ar_decoder_vae",
]


class ConditionalGatedPixelCNN(GatedPixelCNN):
    r"""A :class:`~tutorial_lib.autoregressive.GatedPixelCNN` whose gated layers also
    see a code :math:`z` of ``latent_dim`` values: layer :math:`\ell` adds
    :math:`V_\ell z` and :math:`U_\ell z` (one value per channel, the same at every
    pixel) to the pre-activations of its vertical and horizontal stacks. The code is
    global, so the logits of pixel :math:`i` still depend on no pixel at or after
    :math:`i`."""

    def __init__(
        self,
        latent_dim: int,
        shape: tuple[int, int] = (8, 8),
        levels: int = 17,
        channels: int = 32,
        layers: int = 2,
        kernel: int = 3,
    ):
        super().__init__(shape, levels, channels, layers, kernel)
        if not isinstance(latent_dim, int) or isinstance(latent_dim, bool):
            raise ValueError(f"latent_dim must be an int >= 1, got {latent_dim!r}")
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be an int >= 1, got {latent_dim!r}")
        self.latent_dim = latent_dim
        self.to_v = nn.ModuleList(
            nn.Linear(latent_dim, 2 * channels) for _ in self.layers
        )
        self.to_h = nn.ModuleList(
            nn.Linear(latent_dim, 2 * channels) for _ in self.layers
        )

    def conditional_logits(self, x: Tensor, z: Tensor) -> Tensor:
        """Logits ``(N, H*W, levels)`` of the pixels ``x`` ``(N, H*W)`` given codes
        ``z`` ``(N, latent_dim)``, in raster order (teacher forcing)."""
        if not isinstance(z, Tensor) or z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must be an (N, {self.latent_dim}) tensor")
        if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[0] != z.shape[0]:
            raise ValueError("x must be an (N, H*W) tensor with one row per code")
        v = h = self.image(x)  # (N, 1, H, W)
        for layer, to_v, to_h in zip(self.layers, self.to_v, self.to_h):
            v, h = layer(v, h, to_v(z)[:, :, None, None], to_h(z)[:, :, None, None])
        return self.to_logits(h)


class ARLikelihood(Distribution):
    r""":math:`p_\theta(x\mid z)` of a :class:`ConditionalGatedPixelCNN` for codes ``z``
    of shape ``(..., latent_dim)``: ``log_prob(x)`` broadcasts images ``x`` of shape
    ``(..., D)`` against the codes (as ``torch.distributions`` do) and returns the
    broadcast batch shape;
    :meth:`sample` draws one image per code, one pass per pixel."""

    arg_constraints: dict = {}

    def __init__(self, net: ConditionalGatedPixelCNN, z: Tensor):
        if not isinstance(net, ConditionalGatedPixelCNN):
            raise ValueError(f"net must be a ConditionalGatedPixelCNN, got {net!r:.60}")
        if not isinstance(z, Tensor) or z.dim() < 1 or z.shape[-1] != net.latent_dim:
            raise ValueError(f"z must be a (..., {net.latent_dim}) tensor")
        self.net, self.z = net, z
        super().__init__(
            batch_shape=z.shape[:-1], event_shape=Size([net.dim]), validate_args=False
        )

    def log_prob(self, x: Tensor) -> Tensor:
        """:math:`\\log p_\\theta(x\\mid z)`, summed over the pixels."""
        dim, latent = self.net.dim, self.z.shape[-1]
        if not isinstance(x, Tensor) or x.dim() < 1 or x.shape[-1] != dim:
            raise ValueError(f"x must be a (..., {dim}) tensor of pixel levels")
        lead = torch.broadcast_shapes(self.z.shape[:-1], x.shape[:-1])
        xb = x.expand(*lead, dim).reshape(-1, dim)  # (N, D)
        zb = self.z.expand(*lead, latent).reshape(-1, latent)  # (N, latent)
        logits = self.net.conditional_logits(xb, zb)  # (N, D, levels)
        log_p = Categorical(logits=logits).log_prob(xb.long()).sum(-1)
        return log_p.reshape(lead)

    @torch.no_grad()
    def sample(
        self, sample_shape: Size = Size(), generator: torch.Generator | None = None
    ) -> Tensor:
        """One image per code, ``z.shape[:-1] + (D,)``, float pixel levels; pixels
        drawn in raster order with ``generator`` (CPU). ``sample_shape`` must be
        empty."""
        if Size(sample_shape) != Size():
            raise ValueError("sample_shape must be empty: one image per code")
        zb = self.z.reshape(-1, self.z.shape[-1])
        x = torch.zeros(zb.shape[0], self.net.dim, device=zb.device)
        for i in range(self.net.dim):
            probs = self.net.conditional_logits(x, zb)[:, i].softmax(-1).cpu()
            draw = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            x[:, i] = draw.to(x)
        return x.reshape(*self.z.shape[:-1], self.net.dim)


class ARDecoderVAE(FlowPriorVAE):
    r"""A :class:`~.flow_prior.FlowPriorVAE` (encoder, flow prior) whose decoder is a
    :class:`ConditionalGatedPixelCNN` of the architecture ``decoder`` (an
    :class:`~tutorial_lib.autoregressive.ARConfig` of kind ``"gated"``) on
    ``shape`` images; ``config`` must have a categorical likelihood over its
    ``levels`` and ``data_dim`` equal to the number of pixels. ``flow=None`` is the
    standard normal prior. The decoder has no closed-form mean:
    :meth:`decode` draws images."""

    def __init__(
        self,
        config: VAEConfig,
        flow: FlowConfig | None,
        decoder: ARConfig,
        shape: tuple[int, int] = (8, 8),
    ):
        super().__init__(config, flow)
        if not isinstance(decoder, ARConfig) or decoder.kind != "gated":
            raise ValueError(
                f"decoder must be an ARConfig of kind 'gated', got {decoder!r}"
            )
        if config.likelihood != "categorical":
            raise ValueError("config must have a categorical likelihood")
        if not isinstance(shape, tuple) or len(shape) != 2:
            raise ValueError(f"shape must be a tuple (H, W), got {shape!r}")
        if shape[0] * shape[1] != config.data_dim:
            raise ValueError(
                f"shape must have config.data_dim = {config.data_dim} pixels"
            )
        del self.decoder  # the MLP decoder of the plain VAE is not used
        self.decoder_config = decoder
        self.ar = ConditionalGatedPixelCNN(
            config.latent_dim,
            shape,
            config.levels,
            decoder.width,
            decoder.depth,
            decoder.kernel,
        )

    def likelihood(self, z: Tensor) -> ARLikelihood:  # type: ignore[override]
        r""":math:`p_\theta(x\mid z)`, an :class:`ARLikelihood`."""
        return ARLikelihood(self.ar, z)

    @torch.no_grad()
    def decode(
        self, z: Tensor, mean: bool = False, generator: torch.Generator | None = None
    ) -> Tensor:
        """One image drawn from :math:`p_\\theta(x\\mid z)` per code (``mean=True`` is
        refused: an autoregressive decoder has no closed-form mean)."""
        if mean:
            raise ValueError(
                "mean=True has no closed form for an autoregressive decoder"
            )
        return self.likelihood(z).sample(generator=generator)


def build_ar_decoder_vae(
    config: VAEConfig,
    flow: FlowConfig | None,
    decoder: ARConfig,
    device: torch.device | str | None = None,
) -> ARDecoderVAE:
    """A freshly initialised :class:`ARDecoderVAE` of 8x8 images on ``device``
    (initialised from the global seed)."""
    if not isinstance(config, VAEConfig):
        raise ValueError(f"config must be a VAEConfig, got {type(config).__name__}")
    return ARDecoderVAE(config, flow, decoder).to(
        device if device is not None else "cpu"
    )
