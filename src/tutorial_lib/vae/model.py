r"""Variational autoencoders (Kingma & Welling 2014, arXiv:1312.6114; Rezende et al. 2014,
arXiv:1401.4082).

A VAE is a latent-variable model :math:`p_\theta(x) = \int p_\theta(x \mid z)\, p(z)\, dz` with
the prior :math:`p(z) = \mathcal N(0, I)`, trained by maximising the evidence lower bound

.. math::
    \mathcal L(x) = \mathbb E_{q_\phi(z\mid x)}[\log p_\theta(x\mid z)]
                    - \mathrm{KL}(q_\phi(z\mid x) \,\|\, p(z)) \le \log p_\theta(x),

where the encoder :math:`q_\phi(z\mid x) = \mathcal N(\mu_\phi(x), \mathrm{diag}\,\sigma^2_\phi(x))`
is sampled with the reparameterisation :math:`z = \mu + \sigma \odot \varepsilon`,
:math:`\varepsilon \sim \mathcal N(0, I)`. The decoder is a Gaussian (continuous data), or a
categorical or discretised logistic distribution over the discrete pixel levels (digits).
The log-likelihood itself is estimated with importance sampling (Burda et al. 2016, arXiv:1509.00519).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Distribution, Independent, Normal

from ..nn import mlp

__all__ = ["VAEConfig", "VAE", "DiscretizedLogistic", "build_vae"]


_LIKELIHOODS = ("gaussian", "categorical", "logistic")


class DiscretizedLogistic(Distribution):
    r"""Logistic distribution discretised to the integers ``0..levels-1`` (Salimans et al. 2017,
    arXiv:1701.05517): :math:`P(x=k) = \sigma(\frac{k+\frac12-\mu}{s}) - \sigma(\frac{k-\frac12-\mu}{s})`,
    with all the mass below :math:`\frac12` given to 0 and above ``levels - 1.5`` to the top level.
    Elementwise (event shape ``()``); wrap it in ``Independent`` for images."""

    arg_constraints: dict = {}
    has_rsample = False

    def __init__(self, loc: Tensor, log_scale: Tensor, levels: int):
        self.loc, self.log_scale, self.levels = loc, log_scale, levels
        super().__init__(batch_shape=loc.shape, validate_args=False)

    def log_prob(self, value: Tensor) -> Tensor:
        inv_s = torch.exp(-self.log_scale)
        lo = (value - 0.5 - self.loc) * inv_s  # standardised lower edge of the bin
        hi = (value + 0.5 - self.loc) * inv_s
        # log(sigma(hi) - sigma(lo)) = log sigma(hi) + log sigma(-lo) + log(1 - exp(lo - hi)), stably
        middle = -nn.functional.softplus(-hi) - nn.functional.softplus(lo) + torch.log(-torch.expm1(-inv_s))
        first = -nn.functional.softplus(-hi)  # log sigma(hi): all the mass of (-inf, 0.5]
        last = -nn.functional.softplus(lo)  # log (1 - sigma(lo))
        return torch.where(value < 0.5, first, torch.where(value > self.levels - 1.5, last, middle))

    def probs(self) -> Tensor:
        """Probabilities of every level, shape ``batch_shape + (levels,)``."""
        k = torch.arange(self.levels, device=self.loc.device, dtype=self.loc.dtype)
        return self.log_prob(k.expand(*self.batch_shape, self.levels).movedim(-1, 0)).movedim(0, -1).exp()


@dataclass(frozen=True)
class VAEConfig:
    """Architecture of a :class:`VAE`: MLP encoder and decoder with ``layers`` hidden layers of
    width ``hidden``; ``likelihood`` is ``"gaussian"`` (learned per-dimension scale),
    ``"categorical"`` over ``levels`` integer values ``0..levels-1`` per dimension, or
    ``"logistic"`` (:class:`DiscretizedLogistic` over the same levels)."""

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
            raise ValueError(f"likelihood must be one of {_LIKELIHOODS}, got {self.likelihood!r}")
        if self.activation not in ("relu", "gelu", "tanh"):
            raise ValueError(f"activation must be one of ('relu', 'gelu', 'tanh'), got {self.activation!r}")
        for name in ("data_dim", "latent_dim", "hidden", "layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.levels < 2:
            raise ValueError(f"levels must be >= 2, got {self.levels}")


class VAE(nn.Module):
    r"""Encoder :math:`q_\phi(z\mid x)`, decoder :math:`p_\theta(x\mid z)` and prior
    :math:`p(z) = \mathcal N(0, I)`, all returned as ``torch.distributions`` objects whose
    ``log_prob`` sums over the event dimensions (one value per example)."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        c = config
        self.encoder = mlp(c.data_dim, 2 * c.latent_dim, c.hidden, c.layers, c.activation, c.dropout)
        n_out = c.data_dim * {"categorical": c.levels, "logistic": 2, "gaussian": 1}[c.likelihood]
        self.decoder = mlp(c.latent_dim, n_out, c.hidden, c.layers, c.activation, c.dropout)
        # Gaussian decoder: one learned log standard deviation per data dimension.
        self.log_scale = nn.Parameter(torch.zeros(c.data_dim)) if c.likelihood == "gaussian" else None
        self.register_buffer("_zero", torch.zeros(()))

    def _encoder_input(self, x: Tensor) -> Tensor:
        if self.config.likelihood != "gaussian":  # pixel levels -> [-1, 1]
            return 2.0 * x / (self.config.levels - 1) - 1.0
        return x

    def posterior(self, x: Tensor) -> Independent:
        r""":math:`q_\phi(z\mid x) = \mathcal N(\mu, \mathrm{diag}\,\sigma^2)`; batch shape ``(B,)``."""
        h = self.encoder(self._encoder_input(x))  # (B, 2 * latent)
        mu, log_var = h.chunk(2, dim=-1)  # (B, latent) each
        return Independent(Normal(mu, torch.exp(0.5 * log_var), validate_args=False), 1, validate_args=False)

    def prior(self) -> Independent:
        """The standard normal prior over ``latent_dim`` dimensions."""
        zeros = self._zero.expand(self.config.latent_dim)
        return Independent(Normal(zeros, torch.ones_like(zeros), validate_args=False), 1, validate_args=False)

    def likelihood(self, z: Tensor) -> Distribution:
        r""":math:`p_\theta(x\mid z)` for latents ``z`` of shape ``(..., latent)``."""
        c = self.config
        out = self.decoder(z)  # (..., data_dim * levels) or (..., data_dim)
        if c.likelihood == "categorical":
            logits = out.unflatten(-1, (c.data_dim, c.levels))  # (..., data_dim, levels)
            return Independent(Categorical(logits=logits, validate_args=False), 1, validate_args=False)
        if c.likelihood == "logistic":
            loc, log_scale = out.unflatten(-1, (2, c.data_dim)).unbind(-2)  # (..., data_dim) each
            loc = (c.levels - 1) * torch.sigmoid(loc)
            return Independent(DiscretizedLogistic(loc, log_scale.clamp(min=-5.0), c.levels), 1, validate_args=False)
        return Independent(Normal(out, torch.exp(self.log_scale), validate_args=False), 1, validate_args=False)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, mean: bool = False) -> Tensor:
        """``n`` samples :math:`x \\sim p_\\theta(x)`; ``mean=True`` returns the decoder's mean
        (Gaussian) or expected pixel value (categorical) instead of a sample of the noise."""
        device = self._zero.device
        z = torch.randn(n, self.config.latent_dim, generator=generator).to(device)  # (n, latent)
        return self.decode(z, mean=mean, generator=generator)

    @torch.no_grad()
    def decode(self, z: Tensor, mean: bool = True, generator: torch.Generator | None = None) -> Tensor:
        """Decode latents: the mean of :math:`p_\\theta(x\\mid z)`, or one sample of it."""
        dist = self.likelihood(z)
        if self.config.likelihood != "gaussian":
            base = dist.base_dist
            probs = base.probs if isinstance(base, Categorical) else base.probs()  # (..., data_dim, levels)
            levels = torch.arange(self.config.levels, device=z.device, dtype=probs.dtype)
            if mean:
                return probs @ levels
            flat = probs.reshape(-1, self.config.levels).cpu()
            draw = torch.multinomial(flat, 1, generator=generator).reshape(probs.shape[:-1])
            return draw.to(z.device, probs.dtype)
        if mean:
            return dist.mean
        noise = torch.randn(dist.mean.shape, generator=generator).to(z.device)
        return dist.mean + dist.stddev * noise


def build_vae(config: VAEConfig, device: torch.device | str | None = None) -> VAE:
    """A freshly initialised :class:`VAE` on ``device`` (initialised from the global seed)."""
    return VAE(config).to(device if device is not None else "cpu")
