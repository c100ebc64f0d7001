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

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Distribution, Independent, Normal, kl_divergence

from .train import TrainConfig

__all__ = [
    "VAEConfig",
    "VAE",
    "DiscretizedLogistic",
    "ElboTerms",
    "elbo",
    "iwae_log_likelihood",
    "kl_standard_normal",
    "iwae_bound",
    "kl_per_dimension",
    "build_vae",
    "GAUSS2D_CONFIG",
    "GAUSS2D_TRAIN",
    "DIGITS_CONFIG",
    "DIGITS_TRAIN",
]

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


def _mlp(n_in: int, n_out: int, hidden: int, layers: int, activation: str, dropout: float) -> nn.Sequential:
    act = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}[activation]
    mods: list[nn.Module] = []
    width = n_in
    for _ in range(layers):
        mods += [nn.Linear(width, hidden), act()] + ([nn.Dropout(dropout)] if dropout > 0 else [])
        width = hidden
    mods.append(nn.Linear(width, n_out))
    return nn.Sequential(*mods)


class VAE(nn.Module):
    r"""Encoder :math:`q_\phi(z\mid x)`, decoder :math:`p_\theta(x\mid z)` and prior
    :math:`p(z) = \mathcal N(0, I)`, all returned as ``torch.distributions`` objects whose
    ``log_prob`` sums over the event dimensions (one value per example)."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        c = config
        self.encoder = _mlp(c.data_dim, 2 * c.latent_dim, c.hidden, c.layers, c.activation, c.dropout)
        n_out = c.data_dim * {"categorical": c.levels, "logistic": 2, "gaussian": 1}[c.likelihood]
        self.decoder = _mlp(c.latent_dim, n_out, c.hidden, c.layers, c.activation, c.dropout)
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


@dataclass(frozen=True)
class ElboTerms:
    """Per-example parts of the ELBO (shape ``(B,)`` each): ``elbo = reconstruction - kl``."""

    elbo: Tensor
    reconstruction: Tensor
    kl: Tensor


def kl_standard_normal(mu: Tensor, log_var: Tensor) -> Tensor:
    r"""Closed form :math:`\mathrm{KL}(\mathcal N(\mu, \mathrm{diag}\,\sigma^2)\,\|\,\mathcal N(0, I))
    = \tfrac12 \sum_j (\mu_j^2 + \sigma_j^2 - \log \sigma_j^2 - 1)` (Kingma & Welling 2014,
    appendix B), summed over the last dimension."""
    return 0.5 * (mu.pow(2) + log_var.exp() - log_var - 1.0).sum(-1)


def elbo(model: VAE, x: Tensor, beta: float = 1.0, n_samples: int = 1) -> ElboTerms:
    r"""Reparameterised Monte Carlo estimate of the (β-weighted) ELBO per example,

    :math:`\frac1S \sum_s \log p_\theta(x\mid \mu + \sigma\odot\varepsilon_s)
    - \beta\,\mathrm{KL}(q_\phi(z\mid x)\,\|\,p(z))`, with the KL in closed form through
    ``torch.distributions.kl_divergence``. ``beta = 1`` gives the true ELBO; β-VAE
    (Higgins et al. 2017) uses other values. Returns :class:`ElboTerms` of shape ``(B,)``.
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    q = model.posterior(x)
    z = q.rsample((n_samples,))  # (S, B, latent), differentiable in the encoder's parameters
    rec = model.likelihood(z).log_prob(x).mean(0)  # (B,)
    kl = kl_divergence(q, model.prior().expand(q.batch_shape))  # (B,), closed form
    return ElboTerms(rec - beta * kl, rec, kl)


def kl_per_dimension(model: VAE, x: Tensor) -> Tensor:
    r"""Average over the data of :math:`\mathrm{KL}(q(z_j\mid x)\,\|\,\mathcal N(0,1))` for each
    latent dimension ``j`` (shape ``(latent,)``); a collapsed dimension has KL near 0."""
    with torch.no_grad():
        q = model.posterior(x).base_dist  # batch shape (B, latent)
        return kl_divergence(q, Normal(torch.zeros_like(q.loc), torch.ones_like(q.scale))).mean(0)


def iwae_bound(model: VAE, x: Tensor, k: int) -> Tensor:
    r"""The importance-weighted bound :math:`\hat{\mathcal L}_k(x)` of
    :func:`iwae_log_likelihood` with reparameterised samples, differentiable, so that it can
    also be maximised as a training objective (Burda et al. 2016). Shape ``(B,)``."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    q = model.posterior(x)
    z = q.rsample((k,))  # (k, B, latent)
    log_w = model.likelihood(z).log_prob(x) + model.prior().log_prob(z) - q.log_prob(z)  # (k, B)
    return torch.logsumexp(log_w, 0) - math.log(k)


@torch.no_grad()
def iwae_log_likelihood(model: VAE, x: Tensor, k: int, batch_size: int = 64, chunk: int = 250) -> Tensor:
    r"""Importance-weighted estimate of :math:`\log p_\theta(x)` per example (Burda et al. 2016,
    arXiv:1509.00519):

    .. math::
        \hat{\mathcal L}_k(x) = \log \frac1k \sum_{i=1}^k
        \frac{p_\theta(x\mid z_i)\, p(z_i)}{q_\phi(z_i\mid x)}, \qquad z_i \sim q_\phi(z\mid x).

    Its expectation is a lower bound that increases with ``k`` and tends to
    :math:`\log p_\theta(x)`; ``k = 1`` is the ELBO. Uses the global torch random state.
    Computed in chunks of ``chunk`` samples for ``batch_size`` examples at a time.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if batch_size < 1 or chunk < 1:
        raise ValueError(f"batch_size and chunk must be >= 1, got {batch_size} and {chunk}")
    out = []
    prior = model.prior()
    for xb in x.split(batch_size):
        q = model.posterior(xb)
        parts = []
        for start in range(0, k, chunk):
            z = q.sample((min(chunk, k - start),))  # (S, B, latent)
            parts.append(model.likelihood(z).log_prob(xb) + prior.log_prob(z) - q.log_prob(z))  # (S, B)
        log_w = torch.cat(parts)  # (k, B)
        out.append(torch.logsumexp(log_w, 0) - math.log(k))
    return torch.cat(out)  # (N,)


def build_vae(config: VAEConfig, device: torch.device | str | None = None) -> VAE:
    """A freshly initialised :class:`VAE` on ``device`` (initialised from the global seed)."""
    return VAE(config).to(device if device is not None else "cpu")


# Configurations used by the chapters and the benchmark (one source of truth).
GAUSS2D_CONFIG = VAEConfig(data_dim=2, latent_dim=2, hidden=64, layers=2, likelihood="gaussian")
GAUSS2D_TRAIN = TrainConfig(steps=1000, batch_size=128, lr=3e-3, cosine=True, desc="vae-2d")
DIGITS_CONFIG = VAEConfig(data_dim=64, latent_dim=16, hidden=512, layers=1, likelihood="categorical")
DIGITS_TRAIN = TrainConfig(
    steps=500, batch_size=100, lr=1e-3, cosine=True, val_every=50, desc="vae-digits"
)
