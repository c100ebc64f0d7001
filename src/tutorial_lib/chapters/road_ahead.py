r"""The closing chapter: the tools a reader uses next, each doing a task of this book.

Three libraries do three of the book's tasks, beside the book's own code:

- ``torch.distributions``: a Gaussian mixture (``MixtureSameFamily``) fitted by gradient
  ascent on the log-likelihood, against the EM fit of the foundations chapter
  (:func:`~tutorial_lib.baselines.fit_gmm`), both scored by test NLL minus the true
  entropy;
- ``zuko`` (Rozet et al.): its neural spline flow at the size of the flows chapter's
  spline flow, trained by the same recipe on the same data and scored on the same test
  points (:func:`zuko_nsf`, also the peer of the ``flows2d`` benchmark);
- ``torchdiffeq`` (Chen et al. 2018, arXiv:1806.07366): an adaptive Dormand-Prince
  solve of the exact flow-matching ODE of ``8gaussians``, against the book's fixed-step
  RK4 (:func:`~tutorial_lib.flows.ode_log_prob`), both scored against the exact
  log-density.

``zuko`` and ``torchdiffeq`` are imported inside the functions that use them, so that
importing this module imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor
from torch.distributions import (
    Categorical,
    Independent,
    MixtureSameFamily,
    MultivariateNormal,
    Normal,
)

from ..baselines import fit_gmm
from ..data import get_density
from ..data.density import GaussianMixture2D
from ..flow_matching import CondOTPath, mixture_velocity
from ..flows import FlowConfig, divergence, nll_loss, ode_log_prob
from ..train import History, TrainConfig, fit
from . import flows_2d

__all__ = [
    "RoadAheadConfig",
    "CONFIG",
    "GMMFits",
    "farthest_points",
    "fit_mixtures",
    "ZukoFlow",
    "zuko_nsf",
    "train_zuko_nsf",
    "SolverRow",
    "solver_comparison",
]


def _check_int(name: str, value: object, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


@dataclass(frozen=True)
class RoadAheadConfig:
    """The chapter's runs.

    Mixtures: ``components`` Gaussians fitted to ``n_train`` points of ``gmm_dataset``
    (seed ``data_seed``) by EM and by ``sgd`` (full-batch Adam on the NLL, parameters
    initialised after ``torch.manual_seed(model_seed)``), scored on ``n_test`` points
    (seed ``data_seed + 1``).

    zuko: its NSF at the size of the flows chapter's spline flow, trained on
    ``zuko_dataset`` with the flows chapter's training configuration and scored on its
    test set.

    Solvers: the exact cond-OT velocity of the mixture ``ode_dataset`` on ``ode_points``
    of its points (seed ``data_seed + 2``); torchdiffeq's ``dopri5`` at each tolerance
    of ``tolerances`` (``rtol = atol``) against the book's RK4 at each of
    ``rk4_steps``, all in float64.
    """

    gmm_dataset: str = "8gaussians"
    components: int = 8
    n_train: int = 2_000
    n_test: int = 5_000
    data_seed: int = 40
    model_seed: int = 0
    sgd: TrainConfig = TrainConfig(
        steps=800,
        batch_size=2_000,
        lr=3e-2,
        cosine=True,
        progress=False,
        desc="mixture by gradient",
    )
    zuko_dataset: str = "moons"
    ode_dataset: str = "8gaussians"
    ode_points: int = 1_000
    tolerances: tuple[float, ...] = (1e-3, 1e-6, 1e-9)
    rk4_steps: tuple[int, ...] = (5, 25, 100)

    def __post_init__(self) -> None:
        for name in ("gmm_dataset", "ode_dataset"):
            if not isinstance(get_density(getattr(self, name)), GaussianMixture2D):
                raise ValueError(f"{name} must name a Gaussian-mixture density")
        if self.zuko_dataset not in flows_2d.CONFIG.datasets:
            raise ValueError(
                f"zuko_dataset must be one of {flows_2d.CONFIG.datasets}, "
                f"got {self.zuko_dataset!r}"
            )
        for name, low in (
            ("components", 1),
            ("n_train", 2),
            ("n_test", 2),
            ("data_seed", 0),
            ("model_seed", 0),
            ("ode_points", 2),
        ):
            _check_int(name, getattr(self, name), low)
        if not isinstance(self.sgd, TrainConfig):
            raise ValueError(f"sgd must be a TrainConfig, got {self.sgd!r}")
        if not self.tolerances or not all(
            isinstance(t, float) and 0 < t < 1 for t in self.tolerances
        ):
            raise ValueError(
                f"tolerances must be floats in (0, 1), got " f"{self.tolerances!r}"
            )
        if not self.rk4_steps or not all(
            isinstance(s, int) and s >= 1 for s in self.rk4_steps
        ):
            raise ValueError(f"rk4_steps must be ints >= 1, got {self.rk4_steps!r}")


#: The chapter's configuration.
CONFIG = RoadAheadConfig()


def _check_config(config: object) -> RoadAheadConfig:
    if not isinstance(config, RoadAheadConfig):
        name = type(config).__name__
        raise ValueError(f"config must be a RoadAheadConfig, got {name}")
    return config


@dataclass(frozen=True)
class GMMFits:
    """Test NLL minus the true entropy (nats per point) of the mixture fitted by EM
    (``em``) and by gradient ascent from two initialisations of the means: random
    training points (``sgd_random``) and farthest-point traversal (``sgd_farthest``);
    for each gradient fit, how many of the density's modes have a fitted mean within
    one standard deviation (``covered_random``, ``covered_farthest``); the true
    entropy's Monte Carlo estimate on the test points."""

    em: float
    sgd_random: float
    sgd_farthest: float
    covered_random: int
    covered_farthest: int
    entropy: float


class _Mixture(torch.nn.Module):
    """A ``K``-component full-covariance mixture as ``torch.distributions`` objects,
    with unconstrained parameters: logits, means and the Cholesky factors' raw
    entries (the diagonal through ``softplus``)."""

    def __init__(self, init: Tensor):
        super().__init__()
        k, d = init.shape
        self.logits = torch.nn.Parameter(torch.zeros(k, dtype=init.dtype))
        self.means = torch.nn.Parameter(init.clone())
        self.raw = torch.nn.Parameter(torch.zeros(k, d, d, dtype=init.dtype))

    def distribution(self) -> MixtureSameFamily:
        lower = self.raw.tril(-1)
        diag = torch.nn.functional.softplus(self.raw.diagonal(dim1=-2, dim2=-1))
        scale = lower + torch.diag_embed(diag + 1e-4)  # (K, d, d)
        comp = MultivariateNormal(self.means, scale_tril=scale)
        return MixtureSameFamily(Categorical(logits=self.logits), comp)

    def log_prob(self, x: Tensor) -> Tensor:
        return self.distribution().log_prob(x)


def farthest_points(x: Tensor, k: int, first: int = 0) -> Tensor:
    """``k`` rows of ``x`` ``(N, d)`` chosen by farthest-point traversal: row
    ``first``, then each time the row farthest from those already chosen (the
    deterministic cousin of k-means++ seeding)."""
    if not isinstance(x, Tensor) or x.dim() != 2:
        raise ValueError(f"x must be an (N, d) tensor, got {x!r}")
    _check_int("k", k, 1)
    if k > len(x) or not isinstance(first, int) or not 0 <= first < len(x):
        raise ValueError(f"k must be <= {len(x)} and first in [0, {len(x)})")
    chosen = [first]
    dist = (x - x[first]).norm(dim=1)
    for _ in range(k - 1):
        chosen.append(int(dist.argmax()))
        dist = torch.minimum(dist, (x - x[chosen[-1]]).norm(dim=1))
    return x[chosen]


def fit_mixtures(config: RoadAheadConfig = CONFIG) -> GMMFits:
    """Fit ``config.components`` Gaussians to ``config.gmm_dataset`` by EM and by
    gradient ascent on the log-likelihood from two initialisations of the means, and
    score all three on the test points against the exact log-density."""
    _check_config(config)
    density = get_density(config.gmm_dataset)
    g = torch.Generator().manual_seed(config.data_seed)
    train = density.sample(config.n_train, g)
    test = density.sample(
        config.n_test, torch.Generator().manual_seed(config.data_seed + 1)
    )
    log_p = density.log_prob(test)
    em = fit_gmm(train, config.components)
    torch.manual_seed(config.model_seed)
    starts = {
        "random": train[torch.randperm(len(train))[: config.components]],
        "farthest": farthest_points(train, config.components),
    }
    gaps, covered = {}, {}
    for name, start in starts.items():
        model = _Mixture(start)
        fit(model, lambda m, x: -m.log_prob(x).mean(), train, config.sgd)
        with torch.no_grad():
            gaps[name] = float((log_p - model.log_prob(test)).mean())
            d = torch.cdist(density.means, model.means.double())  # (modes, K)
            covered[name] = int((d.min(1).values < density.std).sum())
    return GMMFits(
        em=float((log_p - em.log_prob(test)).mean()),
        sgd_random=gaps["random"],
        sgd_farthest=gaps["farthest"],
        covered_random=covered["random"],
        covered_farthest=covered["farthest"],
        entropy=float(-log_p.mean()),
    )


class ZukoFlow(torch.nn.Module):
    """A ``zuko`` lazy flow with the ``log_prob`` and ``sample`` of
    :class:`~tutorial_lib.flows.Flow`."""

    def __init__(self, flow: torch.nn.Module):
        if not isinstance(flow, torch.nn.Module):
            raise ValueError(f"flow must be a zuko lazy flow (a Module), got {flow!r}")
        super().__init__()
        self.flow = flow

    def log_prob(self, x: Tensor) -> Tensor:
        return self.flow().log_prob(x)

    def sample(self, n: int) -> Tensor:
        return self.flow().sample((n,))


def zuko_nsf(spline: FlowConfig | None, features: int = 2) -> ZukoFlow:
    """zuko's NSF at the size of ``spline`` (transforms = layers, same bins, ``depth``
    hidden layers of ``hidden`` units, splines on ``[-bound, bound]``), or at zuko's
    defaults (3 transforms, 8 bins, (64, 64), bound 5) when ``spline`` is None.

    Two differences remain, both zuko's design: its spline's end slopes are fixed to 1
    (ours are learned), and in 2-D its autoregressive layer transforms both coordinates
    (the first with constant parameters) where our coupling copies one.
    """
    if spline is not None and not isinstance(spline, FlowConfig):
        raise ValueError(f"spline must be a FlowConfig or None, got {spline!r}")
    _check_int("features", features, 1)
    import zuko
    from zuko.transforms import MonotonicRQSTransform

    if spline is None:
        return ZukoFlow(zuko.flows.NSF(features))
    if spline.kind != "spline":
        raise ValueError(
            f"spline must be a FlowConfig of kind 'spline', got {spline.kind!r}"
        )
    univariate = partial(MonotonicRQSTransform, bound=spline.bound)
    bins = spline.bins
    flow = zuko.flows.MAF(
        features,
        transforms=spline.layers,
        univariate=univariate,
        shapes=[(bins,), (bins,), (bins - 1,)],
        hidden_features=(spline.hidden,) * spline.depth,
    )
    return ZukoFlow(flow)


def train_zuko_nsf(
    config: RoadAheadConfig = CONFIG, flows: flows_2d.Flows2DConfig = flows_2d.CONFIG
) -> tuple[ZukoFlow, History]:
    """zuko's NSF at the size of ``flows.spline``, trained on ``config.zuko_dataset``
    exactly as the flows chapter trains its own flows: ``fit`` with ``flows.train``
    on fresh batches, parameters initialised after ``torch.manual_seed``
    (``flows.model_seed``). Returns the flow on the CPU in eval mode and its
    history."""
    _check_config(config)
    if not isinstance(flows, flows_2d.Flows2DConfig):
        raise ValueError(f"flows must be a Flows2DConfig, got {flows!r}")
    density = get_density(config.zuko_dataset)
    torch.manual_seed(flows.model_seed)
    flow = zuko_nsf(flows.spline)
    history = fit(
        flow, nll_loss, lambda n, g: density.sample(n, g).float(), flows.train
    )
    return flow.cpu().eval(), history


@dataclass(frozen=True)
class SolverRow:
    """One solve of the exact ODE: the solver, its setting (a tolerance or a step
    count), the velocity evaluations it made, and the largest and mean absolute error
    of its log-density against the exact one (nats)."""

    solver: str
    setting: str
    nfe: int
    max_error: float
    mean_error: float


def solver_comparison(config: RoadAheadConfig = CONFIG) -> list[SolverRow]:
    """The log-density of ``config.ode_points`` points of the mixture
    ``config.ode_dataset`` through the exact cond-OT flow-matching ODE (data at
    :math:`t = 1`, standard normal at :math:`t = 0`, exact divergence), solved by
    torchdiffeq's adaptive ``dopri5`` at each tolerance and by the book's RK4 at each
    step count; every row is scored against the density's exact ``log_prob``."""
    _check_config(config)
    from torchdiffeq import odeint

    density = get_density(config.ode_dataset)
    x = density.sample(
        config.ode_points, torch.Generator().manual_seed(config.data_seed + 2)
    )
    exact = density.log_prob(x)
    path = CondOTPath()
    velocity = partial(_velocity, path=path, means=density.means, std=density.std)
    base = Independent(Normal(torch.zeros(2, dtype=torch.float64), 1.0), 1)
    rows = []
    for tol in config.tolerances:
        calls = [0]

        def rhs(t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
            calls[0] += 1
            # the initial step-size probe may look past the interval; the field is
            # defined on [0, 1] only
            t, xt = t.clamp(0.0, 1.0), state[0]
            return velocity(t, xt), divergence(velocity, t, xt)

        times = torch.tensor([1.0, 0.0], dtype=torch.float64)
        zero = torch.zeros(len(x), dtype=torch.float64)
        with torch.no_grad():
            z, integral = odeint(
                rhs, (x, zero), times, method="dopri5", rtol=tol, atol=tol
            )
        err = (base.log_prob(z[-1]) + integral[-1] - exact).abs()
        rows.append(
            SolverRow(
                "dopri5 (torchdiffeq)",
                f"tol {tol:g}",
                calls[0],
                float(err.max()),
                float(err.mean()),
            )
        )
    for steps in config.rk4_steps:
        log_q, _ = ode_log_prob(velocity, x, 1.0, 0.0, steps, base.log_prob, "rk4")
        err = (log_q - exact).abs()
        rows.append(
            SolverRow(
                "RK4 (the book)",
                f"{steps} steps",
                4 * steps,
                float(err.max()),
                float(err.mean()),
            )
        )
    return rows


def _velocity(
    t: Tensor, x: Tensor, path: CondOTPath, means: Tensor, std: float
) -> Tensor:
    return mixture_velocity(path, t, x, means, std)
