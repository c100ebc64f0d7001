r"""Classical baselines: a Gaussian mixture fitted by EM, a Gaussian KDE, independent
pixels, and the uniform model of discrete pixels.

These are the models every deep model of the book is measured against. Their
hyper-parameter (the number of mixture components, the kernel bandwidth) is chosen by
the average NLL on held-out validation data, never on the test data.

* Gaussian mixture, :math:`q(x) = \sum_{k=1}^K \pi_k\,\mathcal N(x;\mu_k,\Sigma_k)`,
  fitted by expectation-maximisation (Dempster, Laird and Rubin 1977) with
  scikit-learn's ``GaussianMixture`` and returned as a ``torch.distributions`` object.
* Gaussian kernel density estimate (Rosenblatt 1956; Parzen 1962),
  :math:`q_h(x) = \frac1n \sum_{i=1}^n \mathcal N(x; x_i, h^2 I)`, written in torch.
* Independent pixels, :math:`q(x) = \prod_j q_j(x_j)`: each pixel's histogram over its
  levels on the training images, a ``torch.distributions`` ``Independent(Categorical)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import Categorical, Independent, MixtureSameFamily
from torch.distributions import MultivariateNormal

__all__ = [
    "GMMConfig",
    "KDEConfig",
    "Selection",
    "fit_gmm",
    "select_gmm",
    "GaussianKDE",
    "select_bandwidth",
    "scott_bandwidth",
    "IndependentPixels",
    "uniform_nll",
]


def _is_pos_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _is_pos_number(v: object) -> bool:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    return ok and math.isfinite(v) and v > 0


def _check_data(x: Tensor, name: str = "x") -> Tensor:
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[0] < 1:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(
            f"{name} must be a tensor of shape (N, D), N >= 1, got {shape}"
        )
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {x.dtype}")
    return x


def _check_config(config: object, kind: type) -> None:
    if not isinstance(config, kind):
        raise ValueError(
            f"config must be a {kind.__name__}, got {type(config).__name__}"
        )


def _check_columns(x: Tensor, like: Tensor, name: str, other: str) -> None:
    if x.shape[1] != like.shape[1]:
        cols = like.shape[1]
        raise ValueError(
            f"{name} must have {cols} columns like {other}, got {x.shape[1]}"
        )


@dataclass(frozen=True)
class GMMConfig:
    """Settings of the EM fit: candidate component counts and EM's stopping rule."""

    components: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    max_iter: int = 300
    tol: float = 1e-4
    n_init: int = 1
    reg_covar: float = 1e-6
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.components or not all(map(_is_pos_int, self.components)):
            raise ValueError(
                f"components must be positive ints, got {self.components!r}"
            )
        checks = {"max_iter": _is_pos_int, "n_init": _is_pos_int}
        checks |= {"tol": _is_pos_number, "reg_covar": _is_pos_number}
        for name, check in checks.items():
            if not check(value := getattr(self, name)):
                raise ValueError(f"{name} must be positive, got {value!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")


@dataclass(frozen=True)
class KDEConfig:
    """Candidate bandwidths of the Gaussian KDE (a geometric grid)."""

    bandwidths: tuple[float, ...] = tuple(round(0.01 * 1.5**i, 5) for i in range(13))

    def __post_init__(self) -> None:
        if not self.bandwidths or not all(map(_is_pos_number, self.bandwidths)):
            raise ValueError(
                f"bandwidths must be positive numbers, got {self.bandwidths!r}"
            )


@dataclass(frozen=True)
class Selection:
    """Result of a validation search: the chosen value and every candidate's val NLL."""

    best: int | float
    val_nll: dict[int | float, float]

    def __post_init__(self) -> None:
        if self.best not in self.val_nll:
            raise ValueError(f"best must be a candidate of val_nll, got {self.best!r}")


def fit_gmm(
    x: Tensor, n_components: int, config: GMMConfig = GMMConfig()
) -> MixtureSameFamily:
    r"""Fit a full-covariance Gaussian mixture to ``x`` (N, D) by EM.

    EM alternates the responsibilities
    :math:`r_{ik} \propto \pi_k \mathcal N(x_i;\mu_k,\Sigma_k)` (E step) with the
    weighted maximum-likelihood updates :math:`\pi_k = \frac1N\sum_i r_{ik}`,
    :math:`\mu_k = \sum_i r_{ik}x_i / \sum_i r_{ik}` and the weighted covariance
    (M step); each iteration does not decrease the likelihood (Dempster et al. 1977).
    scikit-learn runs it, from a k-means initialisation; ``reg_covar`` is added to
    every diagonal.

    Returns a ``MixtureSameFamily`` on ``x``'s device, in ``x``'s dtype.
    """
    x = _check_data(x)
    _check_config(config, GMMConfig)
    if not _is_pos_int(n_components) or n_components > x.shape[0]:
        n = x.shape[0]
        raise ValueError(
            f"n_components must be an int in [1, {n}], got {n_components!r}"
        )
    # imported here, so that importing this module stays cheap
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    gm = GaussianMixture(
        n_components=n_components,
        covariance_type="full",
        max_iter=config.max_iter,
        tol=config.tol,
        n_init=config.n_init,
        reg_covar=config.reg_covar,
        random_state=config.seed,
    )
    # EM on low-dimensional data does many tiny matrix operations: BLAS threads only
    # add overhead (and oversubscribe a busy machine), so EM runs single-threaded.
    with threadpool_limits(limits=1):
        gm.fit(x.detach().cpu().double().numpy())
    kw = {"dtype": x.dtype, "device": x.device}
    weights = torch.as_tensor(gm.weights_, **kw)  # (K,)
    means = torch.as_tensor(gm.means_, **kw)  # (K, D)
    covs = torch.as_tensor(gm.covariances_, **kw)  # (K, D, D)
    components = MultivariateNormal(means, covariance_matrix=covs)
    return MixtureSameFamily(Categorical(probs=weights), components)


def select_gmm(
    train: Tensor, val: Tensor, config: GMMConfig = GMMConfig()
) -> tuple[MixtureSameFamily, Selection]:
    """Fit one mixture per candidate in ``config.components`` (those not larger than
    the training set) and keep the best on ``val``.

    Returns the chosen mixture and a :class:`Selection` whose ``val_nll`` maps each
    component count to the average validation NLL (nats per point).
    """
    train, val = _check_data(train, "train"), _check_data(val, "val")
    _check_columns(val, train, "val", "train")
    _check_config(config, GMMConfig)
    candidates = [k for k in config.components if k <= train.shape[0]]
    if not candidates:
        n = train.shape[0]
        raise ValueError(f"config.components are all above the {n} training points")
    scores: dict[int | float, float] = {}
    best_model, best_k = None, None
    for k in candidates:
        model = fit_gmm(train, k, config)
        scores[k] = -model.log_prob(val).mean().item()
        if best_k is None or scores[k] < scores[best_k]:
            best_model, best_k = model, k
    return best_model, Selection(best=best_k, val_nll=scores)


def scott_bandwidth(x: Tensor) -> float:
    r"""Scott's rule of thumb :math:`h = n^{-1/(D+4)}\,\bar\sigma`, with
    :math:`\bar\sigma` the mean per-coordinate standard deviation: a reference point,
    not our choice."""
    x = _check_data(x)
    n, d = x.shape
    return float(n ** (-1.0 / (d + 4)) * x.std(dim=0).mean())


class GaussianKDE:
    r"""Gaussian kernel density estimate
    :math:`q_h(x) = \frac1n\sum_{i=1}^n \mathcal N(x; x_i, h^2 I_D)`
    (Rosenblatt 1956; Parzen 1962).

    ``log_prob`` is evaluated exactly with a log-sum-exp over all ``n`` kernels, in
    batches of query points; ``sample`` picks a data point uniformly and adds
    :math:`h\,\varepsilon`, :math:`\varepsilon\sim\mathcal N(0, I)`.
    """

    def __init__(self, data: Tensor, bandwidth: float):
        self.data = _check_data(data, "data")
        if not _is_pos_number(bandwidth):
            raise ValueError(f"bandwidth must be a positive number, got {bandwidth!r}")
        self.bandwidth = float(bandwidth)

    def log_prob(self, x: Tensor, batch_size: int = 1024) -> Tensor:
        """Log-density at ``x`` (M, D); returns (M,)."""
        x = _check_data(x)
        _check_columns(x, self.data, "x", "the data")
        if not _is_pos_int(batch_size):
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        h = torch.tensor([self.bandwidth], dtype=torch.float64)
        return _kde_log_prob(x, self.data, h, batch_size)[:, 0]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples (n, D): a random data point plus Gaussian noise of scale ``h``
        (drawn with ``generator``, on the CPU)."""
        if not _is_pos_int(n):
            raise ValueError(f"n must be a positive int, got {n!r}")
        idx = torch.randint(self.data.shape[0], (n,), generator=generator)
        shape, dtype = (n, self.data.shape[1]), self.data.dtype
        noise = torch.randn(shape, generator=generator, dtype=dtype).to(
            self.data.device
        )
        return self.data[idx.to(self.data.device)] + self.bandwidth * noise


def _kde_log_prob(
    x: Tensor, data: Tensor, bandwidths: Tensor, batch_size: int
) -> Tensor:
    """log q_h(x) for every query point and every bandwidth: (M, H)."""
    n, d = data.shape
    h = bandwidths.to(device=x.device, dtype=x.dtype)  # (H,)
    log_norm = math.log(n) + d * torch.log(h * math.sqrt(2 * math.pi))  # (H,)
    out = []
    for chunk in x.split(batch_size):
        # exact differences, not the matrix-product shortcut, which loses precision
        # near 0
        mode = "donot_use_mm_for_euclid_dist"
        d2 = torch.cdist(chunk, data, compute_mode=mode).square()  # (B, n)
        logk = -d2[:, None, :] / (2 * h[None, :, None] ** 2)  # (B, H, n)
        out.append(torch.logsumexp(logk, dim=-1) - log_norm)  # (B, H)
    return torch.cat(out)  # (M, H)


def select_bandwidth(
    train: Tensor, val: Tensor, config: KDEConfig = KDEConfig(), batch_size: int = 256
) -> tuple[GaussianKDE, Selection]:
    """Choose the bandwidth among ``config.bandwidths`` by average validation NLL.

    Returns the KDE on ``train`` with the chosen bandwidth and a :class:`Selection`
    mapping every bandwidth to its validation NLL (nats per point).
    """
    train, val = _check_data(train, "train"), _check_data(val, "val")
    _check_columns(val, train, "val", "train")
    _check_config(config, KDEConfig)
    if not _is_pos_int(batch_size):
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    h = torch.tensor(config.bandwidths, dtype=torch.float64)
    nll = -_kde_log_prob(val, train, h, batch_size).mean(0)  # (H,)
    scores = {float(b): float(v) for b, v in zip(config.bandwidths, nll)}
    best = min(scores, key=scores.get)
    return GaussianKDE(train, best), Selection(best=best, val_nll=scores)


class IndependentPixels(Independent):
    r"""Independent pixels :math:`q(x) = \prod_{j} q_j(x_j)`, each :math:`q_j` the
    histogram of pixel :math:`j` over ``levels`` values on ``train_pixels`` ``(N, D)``,
    with ``smoothing`` added to every count (add-one by default, so that no test value
    has probability zero): :math:`q_j(v) = (c_{jv} + s) / (N + s\,L)`.

    A ``torch.distributions.Independent(Categorical)`` with event shape ``(D,)``:
    ``log_prob(x)`` takes integer-valued ``(B, D)`` pixels and returns ``(B,)``;
    :meth:`sample_images` draws images with an explicit generator.
    """

    def __init__(self, train_pixels: Tensor, levels: int = 17, smoothing: float = 1.0):
        x = _check_data(train_pixels, "train_pixels")
        if not _is_pos_int(levels) or levels < 2:
            raise ValueError(f"levels must be an int >= 2, got {levels!r}")
        if not _is_pos_number(smoothing):
            raise ValueError(f"smoothing must be a positive number, got {smoothing!r}")
        idx = x.round().long()  # (N, D)
        if not torch.equal(idx.to(x.dtype), x) or idx.min() < 0 or idx.max() >= levels:
            raise ValueError(f"train_pixels must hold integers in 0..{levels - 1}")
        counts = torch.nn.functional.one_hot(idx, levels).sum(0).double()  # (D, levels)
        probs = (counts + smoothing) / (counts + smoothing).sum(1, keepdim=True)
        super().__init__(Categorical(probs=probs, validate_args=False), 1)
        self.levels = levels

    def sample_images(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` images, shape ``(n, D)``, float pixel values in ``0..levels-1``."""
        if not _is_pos_int(n):
            raise ValueError(f"n must be a positive int, got {n!r}")
        probs = self.base_dist.probs  # (D, levels)
        idx = torch.multinomial(
            probs, n, replacement=True, generator=generator
        )  # (D, n)
        return idx.T.float()


def uniform_nll(dim: int, levels: int) -> float:
    """NLL in nats of the uniform distribution over ``levels ** dim`` configurations:
    ``dim * log(levels)``."""
    if not _is_pos_int(dim):
        raise ValueError(f"dim must be a positive int, got {dim!r}")
    if not _is_pos_int(levels) or levels < 2:
        raise ValueError(f"levels must be an int >= 2, got {levels!r}")
    return dim * math.log(levels)
