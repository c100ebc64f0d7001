r"""Classical baselines: a Gaussian mixture fitted by EM, a Gaussian KDE, independent pixels.

These are the models every deep model of the book is measured against. Their
hyper-parameter (the number of mixture components, the kernel bandwidth) is chosen by the
average NLL on held-out validation data, never on the test data.

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
from torch.distributions import Categorical, Independent, MixtureSameFamily, MultivariateNormal

__all__ = [
    "GMMConfig",
    "KDEConfig",
    "fit_gmm",
    "select_gmm",
    "GaussianKDE",
    "select_bandwidth",
    "scott_bandwidth",
    "Selection",
    "IndependentPixels",
    "uniform_nll",
]


@dataclass(frozen=True)
class GMMConfig:
    """Settings of the EM fit: candidate component counts and EM's stopping rule."""

    components: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    max_iter: int = 300
    tol: float = 1e-4
    n_init: int = 1
    reg_covar: float = 1e-6
    seed: int = 0


@dataclass(frozen=True)
class KDEConfig:
    """Candidate bandwidths of the Gaussian KDE (a geometric grid)."""

    bandwidths: tuple[float, ...] = tuple(round(0.01 * 1.5**i, 5) for i in range(13))


@dataclass(frozen=True)
class Selection:
    """Result of a validation search: the chosen value and every candidate's val NLL."""

    best: int | float
    val_nll: dict[int | float, float]


def _check_data(x: Tensor, name: str = "x") -> Tensor:
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[0] < 1 or not x.is_floating_point():
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a floating tensor of shape (N, D) with N >= 1, got {shape}")
    return x


def fit_gmm(x: Tensor, n_components: int, config: GMMConfig = GMMConfig()) -> MixtureSameFamily:
    r"""Fit a full-covariance Gaussian mixture to ``x`` (N, D) by EM.

    EM alternates the responsibilities
    :math:`r_{ik} \propto \pi_k \mathcal N(x_i;\mu_k,\Sigma_k)` (E step) with the
    weighted maximum-likelihood updates :math:`\pi_k = \frac1N\sum_i r_{ik}`,
    :math:`\mu_k = \sum_i r_{ik}x_i / \sum_i r_{ik}` and the weighted covariance (M step);
    each iteration does not decrease the likelihood (Dempster et al. 1977). scikit-learn
    runs it, from a k-means initialisation; ``reg_covar`` is added to every diagonal.

    Returns a ``MixtureSameFamily`` on ``x``'s device, in ``x``'s dtype.
    """
    x = _check_data(x)
    if not isinstance(n_components, int) or isinstance(n_components, bool) or not 1 <= n_components <= x.shape[0]:
        raise ValueError(f"n_components must be an int in [1, {x.shape[0]}] (at most N), got {n_components!r}")
    from sklearn.mixture import GaussianMixture  # imported here: importing this module stays cheap

    gm = GaussianMixture(
        n_components=n_components,
        covariance_type="full",
        max_iter=config.max_iter,
        tol=config.tol,
        n_init=config.n_init,
        reg_covar=config.reg_covar,
        random_state=config.seed,
    )
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    # EM on low-dimensional data does many tiny matrix operations: BLAS threads only add
    # overhead (and oversubscribe a busy machine), so EM runs single-threaded.
    with threadpool_limits(limits=1):
        gm.fit(x.detach().cpu().double().numpy())
    kw = {"dtype": x.dtype, "device": x.device}
    weights = torch.as_tensor(gm.weights_, **kw)  # (K,)
    means = torch.as_tensor(gm.means_, **kw)  # (K, D)
    covs = torch.as_tensor(gm.covariances_, **kw)  # (K, D, D)
    return MixtureSameFamily(Categorical(probs=weights), MultivariateNormal(means, covariance_matrix=covs))


def select_gmm(train: Tensor, val: Tensor, config: GMMConfig = GMMConfig()) -> tuple[MixtureSameFamily, Selection]:
    """Fit one mixture per candidate in ``config.components`` and keep the best on ``val``.

    Returns the chosen mixture and a :class:`Selection` whose ``val_nll`` maps each
    component count to the average validation NLL (nats per point).
    """
    train, val = _check_data(train, "train"), _check_data(val, "val")
    if not config.components:
        raise ValueError("config.components must list at least one component count")
    scores: dict[int | float, float] = {}
    best_model, best_k = None, None
    for k in config.components:
        if k > train.shape[0]:
            continue
        model = fit_gmm(train, k, config)
        scores[k] = -model.log_prob(val).mean().item()
        if best_k is None or scores[k] < scores[best_k]:
            best_model, best_k = model, k
    if best_model is None:
        raise ValueError(f"config.components={config.components} are all larger than the {train.shape[0]} training points")
    return best_model, Selection(best=best_k, val_nll=scores)


def scott_bandwidth(x: Tensor) -> float:
    r"""Scott's rule of thumb :math:`h = n^{-1/(D+4)}\,\bar\sigma`, with :math:`\bar\sigma`
    the mean per-coordinate standard deviation: a reference point, not our choice."""
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
        if not isinstance(bandwidth, (int, float)) or not math.isfinite(bandwidth) or bandwidth <= 0:
            raise ValueError(f"bandwidth must be a positive finite number, got {bandwidth!r}")
        self.bandwidth = float(bandwidth)

    def log_prob(self, x: Tensor, batch_size: int = 1024) -> Tensor:
        """Log-density at ``x`` (M, D); returns (M,)."""
        x = _check_data(x)
        if x.shape[1] != self.data.shape[1]:
            raise ValueError(f"x must have {self.data.shape[1]} columns like the data, got {x.shape[1]}")
        return _kde_log_prob(x, self.data, torch.tensor([self.bandwidth], dtype=torch.float64), batch_size)[:, 0]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples (n, D): a random data point plus Gaussian noise of scale ``h``."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        idx = torch.randint(self.data.shape[0], (n,), generator=generator)
        noise = torch.randn((n, self.data.shape[1]), generator=generator, dtype=self.data.dtype)
        return self.data[idx.to(self.data.device)] + self.bandwidth * noise.to(self.data.device)


def _kde_log_prob(x: Tensor, data: Tensor, bandwidths: Tensor, batch_size: int) -> Tensor:
    """log q_h(x) for every query point and every bandwidth: (M, H)."""
    n, d = data.shape
    h = bandwidths.to(device=x.device, dtype=x.dtype)  # (H,)
    out = []
    for chunk in x.split(batch_size):
        # exact differences, not the matrix-product shortcut, which loses precision near 0
        d2 = torch.cdist(chunk, data, compute_mode="donot_use_mm_for_euclid_dist").square()  # (B, n)
        logk = -d2[:, None, :] / (2 * h[None, :, None] ** 2)  # (B, H, n)
        out.append(torch.logsumexp(logk, dim=-1) - math.log(n) - d * torch.log(h * math.sqrt(2 * math.pi)))
    return torch.cat(out)  # (M, H)


def select_bandwidth(
    train: Tensor, val: Tensor, config: KDEConfig = KDEConfig(), batch_size: int = 256
) -> tuple[GaussianKDE, Selection]:
    """Choose the bandwidth among ``config.bandwidths`` by average validation NLL.

    Returns the KDE on ``train`` with the chosen bandwidth and a :class:`Selection`
    mapping every bandwidth to its validation NLL (nats per point).
    """
    train, val = _check_data(train, "train"), _check_data(val, "val")
    if not config.bandwidths or any(not (b > 0 and math.isfinite(b)) for b in config.bandwidths):
        raise ValueError(f"config.bandwidths must be a non-empty tuple of positive numbers, got {config.bandwidths}")
    nll = -_kde_log_prob(val, train, torch.tensor(config.bandwidths, dtype=torch.float64), batch_size).mean(0)
    scores = {float(b): float(v) for b, v in zip(config.bandwidths, nll)}
    best = min(scores, key=scores.get)
    return GaussianKDE(train, best), Selection(best=best, val_nll=scores)


class IndependentPixels(Independent):
    r"""Independent pixels :math:`q(x) = \prod_{j} q_j(x_j)`, each :math:`q_j` the histogram of
    pixel :math:`j` over ``levels`` values on ``train_pixels`` ``(N, D)`` with ``smoothing``
    added to every count (add-one by default, so no test value has probability zero).

    A ``torch.distributions.Independent(Categorical)`` with event shape ``(D,)``:
    ``log_prob(x)`` takes integer-valued ``(B, D)`` pixels and returns ``(B,)``;
    :meth:`sample_images` draws images with an explicit generator.
    """

    def __init__(self, train_pixels: Tensor, levels: int = 17, smoothing: float = 1.0):
        x = _check_data(train_pixels, "train_pixels")
        if not isinstance(levels, int) or levels < 2:
            raise ValueError(f"levels must be an int >= 2, got {levels!r}")
        if not smoothing > 0:
            raise ValueError(f"smoothing must be > 0, got {smoothing}")
        idx = x.round().long().clamp(0, levels - 1)  # (N, D)
        counts = torch.nn.functional.one_hot(idx, levels).sum(0).double() + smoothing  # (D, levels)
        super().__init__(Categorical(probs=counts / counts.sum(1, keepdim=True), validate_args=False), 1)
        self.levels = levels

    def sample_images(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` images, shape ``(n, D)``, float pixel values in ``0..levels-1``."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        idx = torch.multinomial(self.base_dist.probs, n, replacement=True, generator=generator)  # (D, n)
        return idx.T.float()


def uniform_nll(dim: int, levels: int) -> float:
    """NLL in nats of the uniform distribution over ``levels ** dim`` configurations."""
    if dim < 1 or levels < 2:
        raise ValueError(f"dim must be >= 1 and levels >= 2, got dim={dim}, levels={levels}")
    return dim * math.log(levels)
