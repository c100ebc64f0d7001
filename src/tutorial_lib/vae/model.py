r"""Variational autoencoders (Kingma & Welling 2014, arXiv:1312.6114; Rezende et al.
2014, arXiv:1401.4082).

A VAE is a latent-variable model
:math:`p_\theta(x) = \int p_\theta(x \mid z)\, p(z)\, dz` with the prior
:math:`p(z) = \mathcal N(0, I)`, trained by maximising the evidence lower bound

.. math::
    \mathcal L(x) = \mathbb E_{q_\phi(z\mid x)}[\log p_\theta(x\mid z)]
                    - \mathrm{KL}(q_\phi(z\mid x) \,\|\, p(z)) \le \log p_\theta(x),

where the encoder
:math:`q_\phi(z\mid x) = \mathcal N(\mu_\phi(x), \mathrm{diag}\,\sigma^2_\phi(x))` is
sampled with the reparameterisation :math:`z = \mu + \sigma \odot \varepsilon`,
:math:`\varepsilon \sim \mathcal N(0, I)`. The decoder is a Gaussian (continuous data),
or a categorical or discretised logistic distribution over the discrete pixel levels
(digits). The log-likelihood itself is estimated with importance sampling (Burda et al.
2016, arXiv:1509.00519).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Distribution, Independent, Normal

from ..nn import mlp

__all__ = ["VAEConfig", "VAE", "DiscretizedLogistic", "build_vae"]


_LIKELIHOODS = ("gaussian", "categorical", "logistic")
_ACTIVATIONS = ("relu", "gelu", "tanh")


def _shape(x: object) -> object:
    return tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__


def _check_last_dim(x: object, size: int, name: str) -> Tensor:
    if not isinstance(x, Tensor) or x.ndim < 1 or x.shape[-1] != size:
        raise ValueError(
            f"{name} must be a tensor of shape (..., {size}), got {_shape(x)}"
        )
    return x


def _independent(base: Distribution) -> Independent:
    return Independent(base, 1, validate_args=False)


class DiscretizedLogistic(Distribution):
    r"""Logistic distribution discretised to the integers ``0..levels-1`` (Salimans et
    al. 2017, arXiv:1701.05517):
    :math:`P(x=k) = \sigma(\frac{k+\frac12-\mu}{s}) - \sigma(\frac{k-\frac12-\mu}{s})`,
    with all the mass below :math:`\frac12` given to 0 and above ``levels - 1.5`` to the
    top level. Elementwise (event shape ``()``); wrap it in ``Independent`` for
    images."""

    arg_constraints: dict = {}
    has_rsample = False

    def __init__(self, loc: Tensor, log_scale: Tensor, levels: int):
        if not isinstance(levels, int) or isinstance(levels, bool) or levels < 2:
            raise ValueError(f"levels must be an int >= 2, got {levels!r}")
        if not isinstance(loc, Tensor):
            raise ValueError(f"loc must be a tensor, got {type(loc).__name__}")
        if not isinstance(log_scale, Tensor) or log_scale.shape != loc.shape:
            raise ValueError(
                f"log_scale must be a tensor of loc's shape {tuple(loc.shape)}, "
                f"got {_shape(log_scale)}"
            )
        self.loc, self.log_scale, self.levels = loc, log_scale, levels
        super().__init__(batch_shape=loc.shape, validate_args=False)

    def log_prob(self, value: Tensor) -> Tensor:
        if not isinstance(value, Tensor):
            raise ValueError(f"value must be a tensor, got {type(value).__name__}")
        inv_s = torch.exp(-self.log_scale)
        lo = (value - 0.5 - self.loc) * inv_s  # standardised lower edge of the bin
        hi = (value + 0.5 - self.loc) * inv_s
        softplus = nn.functional.softplus
        # log(sigma(hi) - sigma(lo))
        #   = log sigma(hi) + log sigma(-lo) + log(1 - e^(lo - hi)), computed stably
        middle = -softplus(-hi) - softplus(lo) + torch.log(-torch.expm1(-inv_s))
        first = -softplus(-hi)  # log sigma(hi): all the mass of (-inf, 0.5]
        last = -softplus(lo)  # log (1 - sigma(lo))
        top = self.levels - 1.5
        return torch.where(value < 0.5, first, torch.where(value > top, last, middle))

    def probs(self) -> Tensor:
        """Probabilities of every level, shape ``batch_shape + (levels,)``."""
        k = torch.arange(self.levels, device=self.loc.device, dtype=self.loc.dtype)
        grid = k.expand(*self.batch_shape, self.levels).movedim(-1, 0)  # (levels, ...)
        return self.log_prob(grid).movedim(0, -1).exp()


@dataclass(frozen=True)
class VAEConfig:
    """Architecture of a :class:`VAE`: MLP encoder and decoder with ``layers`` hidden
    layers of width ``hidden``; ``likelihood`` is ``"gaussian"`` (learned per-dimension
    scale), ``"categorical"`` over ``levels`` integer values ``0..levels-1`` per
    dimension, or ``"logistic"`` (:class:`DiscretizedLogistic` over the same levels)."""

    data_dim: int
    latent_dim: int
    hidden: int = 256
    layers: int = 2
    likelihood: str = "gaussian"
    levels: int = 17
    activation: str = "gelu"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.likelihood not in _LIKELIHOODS:
            raise ValueError(
                f"likelihood must be one of {_LIKELIHOODS}, got {self.likelihood!r}"
            )
        if self.activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {_ACTIVATIONS}, got {self.activation!r}"
            )
        for name in ("data_dim", "latent_dim", "hidden", "layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not isinstance(self.levels, int) or self.levels < 2:
            raise ValueError(f"levels must be an int >= 2, got {self.levels!r}")


class VAE(nn.Module):
    r"""Encoder :math:`q_\phi(z\mid x)`, decoder :math:`p_\theta(x\mid z)` and prior
    :math:`p(z) = \mathcal N(0, I)`, all returned as ``torch.distributions`` objects
    whose ``log_prob`` sums over the event dimensions (one value per example)."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        if not isinstance(config, VAEConfig):
            raise ValueError(f"config must be a VAEConfig, got {type(config).__name__}")
        self.config = c = config
        self.encoder = mlp(
            c.data_dim, 2 * c.latent_dim, c.hidden, c.layers, c.activation, c.dropout
        )
        per_dim = {"categorical": c.levels, "logistic": 2, "gaussian": 1}[c.likelihood]
        n_out = c.data_dim * per_dim
        self.decoder = mlp(
            c.latent_dim, n_out, c.hidden, c.layers, c.activation, c.dropout
        )
        # Gaussian decoder: one learned log standard deviation per data dimension.
        gaussian = c.likelihood == "gaussian"
        self.log_scale = nn.Parameter(torch.zeros(c.data_dim)) if gaussian else None
        self.register_buffer("_zero", torch.zeros(()))

    def _encoder_input(self, x: Tensor) -> Tensor:
        if self.config.likelihood != "gaussian":  # pixel levels -> [-1, 1]
            return 2.0 * x / (self.config.levels - 1) - 1.0
        return x

    def posterior(self, x: Tensor) -> Independent:
        r""":math:`q_\phi(z\mid x) = \mathcal N(\mu, \mathrm{diag}\,\sigma^2)`; batch
        shape ``(B,)`` for ``x`` of shape ``(B, data_dim)``."""
        _check_last_dim(x, self.config.data_dim, "x")
        h = self.encoder(self._encoder_input(x))  # (B, 2 * latent)
        mu, log_var = h.chunk(2, dim=-1)  # (B, latent) each
        return _independent(Normal(mu, torch.exp(0.5 * log_var), validate_args=False))

    def prior(self) -> Independent:
        """The standard normal prior over ``latent_dim`` dimensions."""
        zeros = self._zero.expand(self.config.latent_dim)
        return _independent(Normal(zeros, torch.ones_like(zeros), validate_args=False))

    def likelihood(self, z: Tensor) -> Distribution:
        r""":math:`p_\theta(x\mid z)` for latents ``z`` of shape ``(..., latent)``."""
        c = self.config
        _check_last_dim(z, c.latent_dim, "z")
        out = self.decoder(z)  # (..., data_dim * levels) or (..., data_dim)
        if c.likelihood == "categorical":
            logits = out.unflatten(-1, (c.data_dim, c.levels))  # (..., D, levels)
            return _independent(Categorical(logits=logits, validate_args=False))
        if c.likelihood == "logistic":
            loc, log_scale = out.unflatten(-1, (2, c.data_dim)).unbind(-2)  # (..., D)
            loc = (c.levels - 1) * torch.sigmoid(loc)
            scale = log_scale.clamp(min=-5.0)
            return _independent(DiscretizedLogistic(loc, scale, c.levels))
        return _independent(Normal(out, torch.exp(self.log_scale), validate_args=False))

    @torch.no_grad()
    def sample(
        self, n: int, generator: torch.Generator | None = None, mean: bool = False
    ) -> Tensor:
        """``n`` samples :math:`x \\sim p_\\theta(x)`; ``mean=True`` returns the
        decoder's mean (Gaussian) or expected pixel value (categorical) instead of a
        sample of the noise."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        device = self._zero.device
        z = torch.randn(n, self.config.latent_dim, generator=generator)  # (n, latent)
        return self.decode(z.to(device), mean=mean, generator=generator)

    @torch.no_grad()
    def decode(
        self, z: Tensor, mean: bool = True, generator: torch.Generator | None = None
    ) -> Tensor:
        """Decode latents: the mean of :math:`p_\\theta(x\\mid z)`, or one sample of
        it."""
        dist = self.likelihood(z)
        levels = self.config.levels
        if self.config.likelihood != "gaussian":
            base = dist.base_dist
            probs = base.probs if isinstance(base, Categorical) else base.probs()
            # probs: (..., data_dim, levels)
            values = torch.arange(levels, device=z.device, dtype=probs.dtype)
            if mean:
                return probs @ values
            flat = probs.reshape(-1, levels).cpu()
            draw = torch.multinomial(flat, 1, generator=generator)
            return draw.reshape(probs.shape[:-1]).to(z.device, probs.dtype)
        if mean:
            return dist.mean
        noise = torch.randn(dist.mean.shape, generator=generator).to(z.device)
        return dist.mean + dist.stddev * noise


def build_vae(config: VAEConfig, device: torch.device | str | None = None) -> VAE:
    """A freshly initialised :class:`VAE` on ``device`` (initialised from the global
    seed)."""
    if not isinstance(config, VAEConfig):
        raise ValueError(f"config must be a VAEConfig, got {type(config).__name__}")
    return VAE(config).to(device if device is not None else "cpu")
