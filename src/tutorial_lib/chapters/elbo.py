r"""The ELBO chapter: the source article's VAE on two-dimensional Gaussian data.

:data:`CONFIG` fixes the data (a correlated Gaussian with a known entropy), the model,
the training run and the evaluation; :func:`train_vae_2d` and :func:`evaluate_vae_2d`
are the run that the chapter shows, the ``vae`` benchmark reports and the tests shrink.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import MultivariateNormal

from ..data import DENSITY_NAMES, get_density
from ..train import History, TrainConfig, fit
from ..utils import seed_everything
from ..vae.model import VAE, VAEConfig, build_vae
from ..vae.objectives import elbo, iwae_log_likelihood

__all__ = [
    "ElboConfig",
    "CONFIG",
    "Gaussian2DEvaluation",
    "data_distribution",
    "data_entropy",
    "sample_data",
    "test_data",
    "negative_elbo",
    "train_vae_2d",
    "evaluate_vae_2d",
]


def _is_pos_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


@dataclass(frozen=True)
class ElboConfig:
    """The chapter's 2-D example: data ``N(mean, cov)``, the VAE ``model`` trained with
    ``train`` on fresh samples at every step (global seed ``seed``), and its evaluation
    on ``test_size`` points drawn with ``test_seed``: the ELBO with ``elbo_samples``
    samples and the importance-weighted bound with ``k`` samples, after seeding with
    ``eval_seed``."""

    mean: tuple[float, float] = (1.0, -0.5)
    cov: tuple[tuple[float, float], tuple[float, float]] = ((1.0, 0.8), (0.8, 1.0))
    model: VAEConfig = VAEConfig(
        data_dim=2, latent_dim=2, hidden=64, layers=2, likelihood="gaussian"
    )
    train: TrainConfig = TrainConfig(
        steps=1000, batch_size=128, lr=3e-3, cosine=True, desc="vae-2d"
    )
    seed: int = 0
    test_size: int = 5000
    test_seed: int = 123
    elbo_samples: int = 100
    k: int = 1000
    eval_seed: int = 1

    def __post_init__(self) -> None:
        if len(self.mean) != 2:
            raise ValueError(f"mean must have 2 entries, got {self.mean!r}")
        cov = torch.tensor(self.cov, dtype=torch.float64)
        if cov.shape != (2, 2) or not torch.equal(cov, cov.T):
            raise ValueError(f"cov must be a symmetric 2 x 2 matrix, got {self.cov!r}")
        if not bool(torch.linalg.eigvalsh(cov).min() > 0):
            raise ValueError(f"cov must be positive definite, got {self.cov!r}")
        if not isinstance(self.model, VAEConfig) or self.model.data_dim != 2:
            raise ValueError(
                f"model must be a VAEConfig with data_dim=2, got {self.model!r}"
            )
        if self.model.likelihood != "gaussian":
            raise ValueError("model must have a gaussian likelihood (continuous data)")
        if not isinstance(self.train, TrainConfig):
            raise ValueError(f"train must be a TrainConfig, got {self.train!r}")
        for name in ("test_size", "elbo_samples", "k"):
            if not _is_pos_int(getattr(self, name)):
                value = getattr(self, name)
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name in ("seed", "test_seed", "eval_seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")


#: The chapter's configuration.
CONFIG = ElboConfig()


def _check_config(config: object) -> ElboConfig:
    if not isinstance(config, ElboConfig):
        raise ValueError(f"config must be an ElboConfig, got {type(config).__name__}")
    return config


def data_distribution(config: ElboConfig = CONFIG) -> MultivariateNormal:
    """The data distribution ``N(mean, cov)`` (float32)."""
    _check_config(config)
    return MultivariateNormal(torch.tensor(config.mean), torch.tensor(config.cov))


def data_entropy(config: ElboConfig = CONFIG) -> float:
    r"""The data's entropy :math:`H = \tfrac12\log\det(2\pi e\,\Sigma)` in nats: the
    smallest expected negative log-likelihood any model can reach."""
    _check_config(config)
    cov = torch.tensor(config.cov)
    return float(0.5 * torch.logdet(2 * math.pi * math.e * cov))


def sample_data(
    n: int, generator: torch.Generator, config: ElboConfig = CONFIG
) -> Tensor:
    """``n`` points ``mean + L eps`` (``L`` the Cholesky factor of ``cov``), shape
    ``(n, 2)``, drawn with ``generator``; the sampler that :func:`fit` calls."""
    _check_config(config)
    if not _is_pos_int(n):
        raise ValueError(f"n must be a positive int, got {n!r}")
    chol = torch.linalg.cholesky(torch.tensor(config.cov))
    eps = torch.randn(n, 2, generator=generator)  # (n, 2)
    return torch.tensor(config.mean) + eps @ chol.T


def test_data(
    config: ElboConfig = CONFIG, device: torch.device | str | None = None
) -> Tensor:
    """The ``test_size`` test points, drawn with ``test_seed``, on ``device``."""
    _check_config(config)
    gen = torch.Generator().manual_seed(config.test_seed)
    return sample_data(config.test_size, gen, config).to(device or "cpu")


def negative_elbo(model: VAE, x: Tensor) -> Tensor:
    """The training loss: the one-sample reparameterised :math:`-\\mathrm{ELBO}`,
    averaged over the rows of ``x``."""
    return -elbo(model, x).elbo.mean()


def train_vae_2d(
    config: ElboConfig = CONFIG,
    device: torch.device | str | None = None,
    data: str | None = None,
) -> tuple[VAE, History]:
    """Seed with ``config.seed``, build the VAE and train it on fresh samples of the
    data at every step: the chapter's Gaussian, or the 2-D density called ``data``
    (the side-by-side chapter's use)."""
    _check_config(config)
    if data is not None and data not in DENSITY_NAMES:
        raise ValueError(f"data must be None or one of {DENSITY_NAMES}, got {data!r}")
    seed_everything(config.seed)
    model = build_vae(config.model, device)
    if data is None:
        sampler = lambda n, g: sample_data(n, g, config)  # noqa: E731
    else:
        density = get_density(data)
        sampler = lambda n, g: density.sample(n, g).float()  # noqa: E731
    history = fit(model, negative_elbo, sampler, config.train)
    return model, history


@dataclass(frozen=True)
class Gaussian2DEvaluation:
    """Test results in nats per point: ``nelbo = reconstruction + kl``, the
    importance-weighted ``nll``, the exact ``true_nll`` of the same test points under
    the data distribution (``true_nll_se``: its standard error over points), and the
    entropy, the floor of the expected NLL."""

    nelbo: float
    reconstruction: float
    kl: float
    nll: float
    true_nll: float
    true_nll_se: float
    entropy: float

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if not isinstance(value, float) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite float, got {value!r}")


def evaluate_vae_2d(model: VAE, config: ElboConfig = CONFIG) -> Gaussian2DEvaluation:
    """Seed with ``eval_seed``, then estimate the test :math:`-\\mathrm{ELBO}`
    (``elbo_samples`` samples) and the importance-weighted NLL (``k`` samples)."""
    _check_config(config)
    if not isinstance(model, VAE):
        raise ValueError(f"model must be a VAE, got {type(model).__name__}")
    device = next(model.parameters()).device
    x = test_data(config, device)  # (test_size, 2)
    torch.manual_seed(config.eval_seed)
    with torch.no_grad():
        terms = elbo(model, x, n_samples=config.elbo_samples)
    k = config.k
    nll = -iwae_log_likelihood(model, x, k, batch_size=1000, chunk=1000).mean()
    true_log_p = data_distribution(config).log_prob(x.cpu())  # (test_size,)
    return Gaussian2DEvaluation(
        nelbo=float(-terms.elbo.mean()),
        reconstruction=float(-terms.reconstruction.mean()),
        kl=float(terms.kl.mean()),
        nll=float(nll),
        true_nll=float(-true_log_p.mean()),
        true_nll_se=float(true_log_p.std() / math.sqrt(len(true_log_p))),
        entropy=data_entropy(config),
    )
