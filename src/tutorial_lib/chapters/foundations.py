r"""The foundations chapter: its configuration and the recipes its notebook calls.

Two experiments, one configuration (:class:`FoundationsConfig`):

* **maximum likelihood drives** :math:`\mathrm{KL}(p\,\|\,q_\theta)` **to zero**
  (:func:`run_mle`): a mixture of diagonal Gaussians (:class:`DiagonalMixture`) is
  trained by Adam on the NLL of fresh samples of ``8gaussians``; the parameters are
  chosen on a validation sample and the KL is reported on a separate test sample;
* **classical baselines against the entropy floor** (:func:`run_baselines`): for one
  2-D data set, a Gaussian mixture (EM, :math:`K` chosen on validation data) and a
  Gaussian KDE (bandwidth chosen on validation data), scored by test NLL minus the
  true entropy :math:`H(p)`, an estimate of :math:`\mathrm{KL}(p\,\|\,q)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from ..baselines import GMMConfig, KDEConfig, select_bandwidth, select_gmm
from ..data import DENSITY_NAMES, get_density
from ..metrics import entropy_mc
from ..train import History, TrainConfig, fit

__all__ = [
    "FoundationsConfig",
    "CONFIG",
    "DiagonalMixture",
    "paired_kl",
    "MLESamples",
    "mle_samples",
    "MLERun",
    "run_mle",
    "dataset_entropy",
    "BaselineRow",
    "run_baselines",
]

_FFJORD = ("8gaussians", "checkerboard", "moons", "circles", "rings", "2spirals")
_FFJORD += ("pinwheel",)


def _require(ok: bool, name: str, what: str, value: object) -> None:
    """Raise the ``ValueError`` that names the bad argument ``name``."""
    if not ok:
        raise ValueError(f"{name} must be {what}, got {value!r}")


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


@dataclass(frozen=True)
class FoundationsConfig:
    """The foundations chapter's settings.

    Baselines: ``n_train``/``n_val``/``n_test`` points of each data set in ``datasets``
    (drawn with the seed ``seed + index``), the candidates ``gmm`` and ``kde``, and
    ``n_entropy`` samples for the Monte Carlo entropy (seed ``seed``).
    Maximum likelihood: a ``mle_components``-component :class:`DiagonalMixture` on
    ``mle_dataset``, means started at data points drawn with ``mle_init_seed``, trained
    with ``mle_train``; the parameters with the lowest KL on ``mle_n_val`` validation
    points (seed ``mle_val_seed``) are kept; the KL is reported on ``mle_n_test`` test
    points (seed ``mle_test_seed``).
    """

    datasets: tuple[str, ...] = _FFJORD
    n_train: int = 5_000
    n_val: int = 2_000
    n_test: int = 5_000
    n_entropy: int = 10_000
    gmm: GMMConfig = GMMConfig()
    kde: KDEConfig = KDEConfig()
    seed: int = 0
    mle_dataset: str = "8gaussians"
    mle_components: int = 16
    mle_init_std: float = 0.5
    mle_init_seed: int = 1
    mle_n_val: int = 5_000
    mle_n_test: int = 5_000
    mle_val_seed: int = 101
    mle_test_seed: int = 102
    mle_train: TrainConfig = TrainConfig(
        steps=1000, batch_size=512, lr=0.03, cosine=True, val_every=50, progress=False
    )

    def __post_init__(self) -> None:
        known = f"densities of {DENSITY_NAMES}"
        ok = bool(self.datasets) and all(n in DENSITY_NAMES for n in self.datasets)
        _require(ok, "datasets", known, self.datasets)
        name = self.mle_dataset
        _require(name in DENSITY_NAMES, "mle_dataset", known, name)
        for name in ("n_train", "n_val", "n_test", "n_entropy", "mle_components"):
            _require(_positive_int(v := getattr(self, name)), name, "a positive int", v)
        for name in ("mle_n_val", "mle_n_test"):
            _require(_positive_int(v := getattr(self, name)), name, "a positive int", v)
        _require(self.n_entropy >= 2, "n_entropy", ">= 2", self.n_entropy)
        for name, kind in [("gmm", GMMConfig), ("kde", KDEConfig)]:
            _require(isinstance(v := getattr(self, name), kind), name, kind.__name__, v)
        train = self.mle_train
        _require(isinstance(train, TrainConfig), "mle_train", "a TrainConfig", train)
        below = f"below n_train = {self.n_train}"
        top = max(self.gmm.components)
        _require(top < self.n_train, "gmm.components", below, self.gmm.components)
        _require(self.mle_init_std > 0, "mle_init_std", "> 0", self.mle_init_std)
        every = self.mle_train.val_every
        _require(
            every >= 1, "mle_train.val_every", ">= 1 (select on validation)", every
        )
        for name in ("seed", "mle_init_seed", "mle_val_seed", "mle_test_seed"):
            v = getattr(self, name)
            _require(isinstance(v, int) and v >= 0, name, "a non-negative int", v)
        apart = "different from mle_test_seed (separate samples)"
        seed = self.mle_val_seed
        _require(seed != self.mle_test_seed, "mle_val_seed", apart, seed)


#: The configuration the foundations chapter runs.
CONFIG = FoundationsConfig()


def _check_config(config: object) -> FoundationsConfig:
    if not isinstance(config, FoundationsConfig):
        raise ValueError(
            f"config must be a FoundationsConfig, got {type(config).__name__}"
        )
    return config


class DiagonalMixture(nn.Module):
    r"""Mixture of :math:`K` Gaussians with diagonal covariances,
    :math:`q_\theta(x) = \sum_k \pi_k \prod_d \mathcal N(x_d; \mu_{kd}, \sigma_{kd}^2)`,
    with :math:`\pi = \mathrm{softmax}(\text{logits})`, trained by gradient descent.

    Starts from the means ``init_means`` ``(K, D)``, equal weights and every standard
    deviation equal to ``init_std``.
    """

    def __init__(self, init_means: Tensor, init_std: float = 0.5):
        super().__init__()
        ok = isinstance(init_means, Tensor) and init_means.ndim == 2
        if not ok or not len(init_means):
            raise ValueError("init_means must be a (K, D) tensor with K >= 1")
        if not (isinstance(init_std, (int, float)) and init_std > 0):
            raise ValueError(f"init_std must be > 0, got {init_std!r}")
        means = init_means.detach().to(torch.float32)
        self.logits = nn.Parameter(torch.zeros(means.shape[0]))  # (K,)
        self.means = nn.Parameter(means.clone())  # (K, D)
        log_std = torch.full_like(means, math.log(init_std))
        self.log_stds = nn.Parameter(log_std)  # (K, D)

    def distribution(self) -> MixtureSameFamily:
        """The mixture as a ``torch.distributions`` object."""
        components = Independent(Normal(self.means, self.log_stds.exp()), 1)
        return MixtureSameFamily(Categorical(logits=self.logits), components)

    def log_prob(self, x: Tensor) -> Tensor:
        r""":math:`\log q_\theta(x)` per row of ``x`` ``(N, D)``; shape ``(N,)``."""
        return self.distribution().log_prob(x)


@torch.no_grad()
def paired_kl(model: nn.Module, x: Tensor, log_p: Tensor) -> tuple[float, float]:
    r"""The paired estimate :math:`\frac1n\sum_i[\log p(x_i) - \log q(x_i)]` of
    :math:`\mathrm{KL}(p\,\|\,q)` from points :math:`x_i \sim p` with their exact
    log-densities ``log_p``, and its standard error."""
    ok = isinstance(x, Tensor) and isinstance(log_p, Tensor)
    if not ok or log_p.shape != x.shape[:1]:
        raise ValueError("log_p must hold one log-density per row of x")
    if len(x) < 2:
        raise ValueError(f"x must hold at least 2 points, got {len(x)}")
    diff = log_p.double() - model.log_prob(x).double().to(log_p.device)
    return diff.mean().item(), (diff.std() / math.sqrt(len(diff))).item()


@dataclass(frozen=True)
class MLESamples:
    """Validation and test points of the maximum-likelihood demonstration, with their
    exact log-densities (float64) and the Monte Carlo entropy of the test points."""

    val: Tensor
    log_p_val: Tensor
    test: Tensor
    log_p_test: Tensor
    entropy: float
    entropy_se: float

    def __post_init__(self) -> None:
        for part in ("val", "test"):
            x, log_p = getattr(self, part), getattr(self, f"log_p_{part}")
            ok = isinstance(x, Tensor) and isinstance(log_p, Tensor) and x.ndim == 2
            if not ok or log_p.shape != x.shape[:1]:
                raise ValueError(
                    f"log_p_{part} must hold one log-density per row of {part}"
                )


def mle_samples(
    config: FoundationsConfig = CONFIG, device: torch.device | str = "cpu"
) -> MLESamples:
    """Draw the validation and test samples of :func:`run_mle` (on ``device``). The test
    points are those of :func:`~tutorial_lib.metrics.entropy_mc` with the same seed, so
    that test NLL minus :math:`H(p)` equals the paired KL estimate on them."""
    config = _check_config(config)
    density = get_density(config.mle_dataset)

    def draw(n: int, seed: int) -> tuple[Tensor, Tensor]:
        x = density.sample(n, torch.Generator().manual_seed(seed))
        return x.to(device), density.log_prob(x.double()).to(device)

    val, log_p_val = draw(config.mle_n_val, config.mle_val_seed)
    test, log_p_test = draw(config.mle_n_test, config.mle_test_seed)
    entropy, entropy_se = entropy_mc(
        density, n=config.mle_n_test, seed=config.mle_test_seed
    )
    return MLESamples(val, log_p_val, test, log_p_test, entropy, entropy_se)


@dataclass(frozen=True)
class MLERun:
    """A trained :class:`DiagonalMixture` with its training history and its paired KL
    estimates on the validation and test samples (nats)."""

    model: DiagonalMixture
    history: History
    val_kl: float
    test_kl: float
    test_kl_se: float
    test_nll: float

    def __post_init__(self) -> None:
        if not isinstance(self.model, DiagonalMixture):
            raise ValueError(f"model must be a DiagonalMixture, got {type(self.model)}")
        if not isinstance(self.history, History):
            raise ValueError(f"history must be a History, got {type(self.history)}")


def run_mle(
    config: FoundationsConfig = CONFIG,
    samples: MLESamples | None = None,
    init_means: Tensor | None = None,
    device: torch.device | str = "cpu",
) -> MLERun:
    """Train the chapter's :class:`DiagonalMixture` by maximum likelihood on fresh
    samples of ``config.mle_dataset`` (a new minibatch every step), keep the parameters
    with the lowest validation KL, and report the KL on the test sample.

    ``init_means`` ``(K, D)`` overrides the start (default: ``config.mle_components``
    data points drawn with ``config.mle_init_seed``).
    """
    config = _check_config(config)
    samples = mle_samples(config, device) if samples is None else samples
    if not isinstance(samples, MLESamples):
        raise ValueError(f"samples must be MLESamples, got {type(samples).__name__}")
    density = get_density(config.mle_dataset)
    if init_means is None:
        init_generator = torch.Generator().manual_seed(config.mle_init_seed)
        init_means = density.sample(config.mle_components, init_generator)
    model = DiagonalMixture(init_means, config.mle_init_std).to(device)
    history = fit(
        model,
        lambda m, batch: -m.log_prob(batch).mean(),
        lambda n, g: density.sample(n, g),
        config.mle_train,
        val_fn=lambda m: paired_kl(m, samples.val, samples.log_p_val)[0],
        device=device,
    )
    val_kl, _ = paired_kl(model, samples.val, samples.log_p_val)
    test_kl, test_kl_se = paired_kl(model, samples.test, samples.log_p_test)
    with torch.no_grad():
        test_nll = -model.log_prob(samples.test).double().mean().item()
    return MLERun(model, history, val_kl, test_kl, test_kl_se, test_nll)


def dataset_entropy(config: FoundationsConfig, name: str) -> tuple[float, float]:
    """Monte Carlo entropy :math:`H(p)` of the data set ``name`` and its standard error
    (``config.n_entropy`` samples, seed ``config.seed``)."""
    config = _check_config(config)
    return entropy_mc(get_density(name), n=config.n_entropy, seed=config.seed)


@dataclass(frozen=True)
class BaselineRow:
    """One data set of the baseline table: the entropy and, for each baseline, the
    chosen hyper-parameter and the test NLL with standard errors (nats per point)."""

    dataset: str
    entropy: float
    entropy_se: float
    gmm_components: int
    gmm_nll: float
    gmm_nll_se: float
    kde_bandwidth: float
    kde_nll: float
    kde_nll_se: float

    def gap(self, model: str) -> float:
        """Test NLL minus :math:`H(p)` of ``model`` (``"GMM"`` or ``"KDE"``)."""
        return self._nll(model)[0] - self.entropy

    def gap_se(self, model: str) -> float:
        """Standard error of :meth:`gap`: test NLL and entropy errors combined."""
        return math.hypot(self._nll(model)[1], self.entropy_se)

    def _nll(self, model: str) -> tuple[float, float]:
        if model == "GMM":
            return self.gmm_nll, self.gmm_nll_se
        if model == "KDE":
            return self.kde_nll, self.kde_nll_se
        raise ValueError(f"model must be 'GMM' or 'KDE', got {model!r}")


def _nll_and_se(log_q: Tensor) -> tuple[float, float]:
    log_q = log_q.double()
    return -log_q.mean().item(), (log_q.std() / math.sqrt(len(log_q))).item()


def run_baselines(
    config: FoundationsConfig,
    name: str,
    device: torch.device | str = "cpu",
    entropy: tuple[float, float] | None = None,
) -> BaselineRow:
    """The baseline table's run for the data set ``name`` (one of ``config.datasets``):
    draw train, validation and test points, choose a GMM and a KDE on the validation
    points, and measure both on the test points against the entropy (``entropy``, if
    given, must be :func:`dataset_entropy`'s value, computed once by the caller)."""
    config = _check_config(config)
    if name not in config.datasets:
        raise ValueError(
            f"name must be one of config.datasets {config.datasets}, got {name!r}"
        )
    density = get_density(name)
    g = torch.Generator().manual_seed(config.seed + config.datasets.index(name))
    sizes = (config.n_train, config.n_val, config.n_test)
    train, val, test = (density.sample(n, g).to(device) for n in sizes)
    gmm, gmm_sel = select_gmm(train, val, config.gmm)
    kde, kde_sel = select_bandwidth(train, val, config.kde)
    entropy, entropy_se = dataset_entropy(config, name) if entropy is None else entropy
    gmm_nll = _nll_and_se(gmm.log_prob(test))
    kde_nll = _nll_and_se(kde.log_prob(test))
    return BaselineRow(
        name, entropy, entropy_se, gmm_sel.best, *gmm_nll, kde_sel.best, *kde_nll
    )
