r"""The mode-collapse chapter: its configuration and the recipes that the notebook, the
``gan2d`` benchmark and the tests all call.

A plain non-saturating GAN and the chapter's remedy are trained on the PacGAN mixtures
(Lin et al. 2018, arXiv:1712.04086): the ring (8 Gaussians, :math:`\sigma = 0.01`) and
the grid (25 Gaussians, :math:`\sigma = 0.05`), and scored by
:func:`~tutorial_lib.metrics.mode_metrics` on 2,500 samples. The remedy changes four
things of the plain GAN (:data:`CHANGES`); the ablation removes each in turn.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..data import DENSITY_NAMES, get_density
from ..gan.networks import MLPGenerator
from ..gan.training import GANConfig, generate, train_gan
from ..metrics.modes import ModeStats, mode_metrics
from ..train import History

__all__ = [
    "DATASETS",
    "CHANGES",
    "METHODS",
    "ModeCollapseConfig",
    "CONFIG",
    "gan_config",
    "train_2d",
    "evaluate_2d",
    "run_2d",
]

#: The two mixtures of the chapter (names of :func:`~tutorial_lib.data.get_density`).
DATASETS = ("ring", "grid")

#: The remedy's four changes, each with the fields of :class:`GANConfig` it sets.
CHANGES = (
    ("R1 penalty", ("r1", "r1_every")),
    ("momentum-free Adam", ("betas",)),
    ("uniform noise", ("prior",)),
    ("learning-rate decay", ("lr_final", "decay_fraction")),
)

#: The methods: the plain GAN, the remedy, the remedy with one change removed, and the
#: remedy with a PacGAN discriminator judging packs of 4 samples.
METHODS = (
    "GAN",
    "remedy",
    *(f"remedy without {name}" for name, _ in CHANGES),
    "remedy + PacGAN4",
)

_CHANGED = {f for _, fields in CHANGES for f in fields}


def _check_dataset(dataset: str) -> str:
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    return dataset


@dataclass(frozen=True)
class ModeCollapseConfig:
    """The chapter's one configuration.

    ``ring_plain``/``grid_plain`` are the plain GANs (Gaussian noise, Adam with the
    DCGAN betas (0.5, 0.999), constant learning rate; on the grid the generator's
    output is scaled by 4, the grid's spread, for every method);
    ``ring_remedy``/``grid_remedy`` differ from them only in the fields of
    :data:`CHANGES`. ``ablation_steps`` is the shorter budget (ring, grid) of the
    ablation rows, on which the remedy is run again for a like-for-like comparison.
    Metrics use ``n_eval`` samples drawn with noise seed ``eval_seed + seed``; the
    benchmark averages over ``seeds``.
    """

    ring_plain: GANConfig = GANConfig(steps=2000, batch_size=128)
    grid_plain: GANConfig = GANConfig(steps=5000, batch_size=128, out_scale=4.0)
    ring_remedy: GANConfig = GANConfig(
        steps=2000,
        batch_size=128,
        r1=0.01,
        r1_every=4,
        prior="uniform",
        betas=(0.0, 0.99),
        lr_final=0.003,
        decay_fraction=0.6,
    )
    grid_remedy: GANConfig = GANConfig(
        steps=5000,
        batch_size=128,
        r1=0.01,
        r1_every=4,
        prior="uniform",
        betas=(0.0, 0.99),
        out_scale=4.0,
        lr_final=0.01,
        decay_fraction=0.5,
    )
    ablation_steps: tuple[int, int] = (600, 1000)
    n_eval: int = 2500
    eval_seed: int = 10_000
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)

    def __post_init__(self) -> None:
        for dataset in DATASETS:
            plain, remedy = self.plain(dataset), self.remedy(dataset)
            for name, value in (
                (f"{dataset}_plain", plain),
                (f"{dataset}_remedy", remedy),
            ):
                if not isinstance(value, GANConfig):
                    raise ValueError(f"{name} must be a GANConfig, got {value!r}")
            other = [
                f.name
                for f in dataclasses.fields(GANConfig)
                if f.name not in _CHANGED
                and getattr(plain, f.name) != getattr(remedy, f.name)
            ]
            if other:
                raise ValueError(
                    f"{dataset}_remedy may differ from {dataset}_plain only in the "
                    "fields "
                    f"of CHANGES, but differs in {other}"
                )
        steps = self.ablation_steps
        if len(steps) != 2 or not all(isinstance(s, int) and s >= 1 for s in steps):
            raise ValueError(f"ablation_steps must be two ints >= 1, got {steps!r}")
        if not isinstance(self.n_eval, int) or self.n_eval < 1:
            raise ValueError(f"n_eval must be an int >= 1, got {self.n_eval!r}")
        if self.eval_seed < 0:
            raise ValueError(f"eval_seed must be >= 0, got {self.eval_seed}")
        if not self.seeds or any(not isinstance(s, int) or s < 0 for s in self.seeds):
            raise ValueError(
                f"seeds must be a non-empty tuple of ints >= 0, got {self.seeds!r}"
            )

    def plain(self, dataset: str) -> GANConfig:
        """The plain GAN's configuration on ``dataset``."""
        return getattr(self, f"{_check_dataset(dataset)}_plain")

    def remedy(self, dataset: str) -> GANConfig:
        """The remedy's configuration on ``dataset``."""
        return getattr(self, f"{_check_dataset(dataset)}_remedy")


#: The configuration of the chapter and of the ``gan2d`` benchmark.
CONFIG = ModeCollapseConfig()


def gan_config(
    dataset: str,
    method: str,
    config: ModeCollapseConfig = CONFIG,
    steps: int | None = None,
) -> GANConfig:
    """The :class:`GANConfig` of ``method`` (one of :data:`METHODS`) on ``dataset``;
    ``steps`` overrides the budget (the learning-rate decay keeps its fraction)."""
    _check_dataset(dataset)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if steps is not None and (not isinstance(steps, int) or steps < 1):
        raise ValueError(f"steps must be None or an int >= 1, got {steps!r}")
    plain, remedy = config.plain(dataset), config.remedy(dataset)
    if method == "GAN":
        chosen = plain
    elif method == "remedy":
        chosen = remedy
    elif method == "remedy + PacGAN4":
        chosen = dataclasses.replace(remedy, pack=4)
    else:
        fields = dict(CHANGES)[method.removeprefix("remedy without ")]
        chosen = dataclasses.replace(remedy, **{f: getattr(plain, f) for f in fields})
    return chosen if steps is None else dataclasses.replace(chosen, steps=steps)


def train_2d(
    dataset: str,
    method: str,
    seed: int = 0,
    config: ModeCollapseConfig = CONFIG,
    *,
    steps: int | None = None,
    callback: Callable[[MLPGenerator, int], None] | None = None,
    callback_every: int = 0,
    progress: bool = True,
    data: str | None = None,
) -> tuple[MLPGenerator, History]:
    """Train ``method`` on ``dataset``: players initialised after
    ``torch.manual_seed(seed)``, batches drawn with ``seed``. ``callback(generator,
    step)`` runs every ``callback_every`` steps. ``data`` names another 2-D density to
    train on with ``dataset``'s configuration (the side-by-side chapter's use). Returns
    the generator (eval mode, on the CPU) and the history."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    if data is not None and data not in DENSITY_NAMES:
        raise ValueError(f"data must be None or one of {DENSITY_NAMES}, got {data!r}")
    gan = gan_config(dataset, method, config, steps)
    density = get_density(dataset if data is None else data)
    torch.manual_seed(seed)
    g, d = gan.build()
    hook = None if callback is None else (lambda step: callback(g, step))
    history = train_gan(
        g,
        d,
        density.sample,
        gan,
        seed=seed,
        callback=hook,
        callback_every=callback_every,
        progress=progress,
        desc=f"{method} on {dataset}",
    )
    return g.cpu().eval(), history


def evaluate_2d(
    generator: MLPGenerator,
    dataset: str,
    seed: int = 0,
    config: ModeCollapseConfig = CONFIG,
) -> ModeStats:
    """The mode metrics of ``config.n_eval`` samples of ``generator`` (noise seed
    ``config.eval_seed + seed``) on the mixture ``dataset``."""
    density = get_density(_check_dataset(dataset))
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    x = generate(generator, config.n_eval, seed=config.eval_seed + seed)
    return mode_metrics(x, density.means, density.std)


def run_2d(
    dataset: str,
    method: str,
    seed: int = 0,
    config: ModeCollapseConfig = CONFIG,
    *,
    steps: int | None = None,
    progress: bool = False,
) -> tuple[ModeStats, float]:
    """Train (:func:`train_2d`) and evaluate (:func:`evaluate_2d`) one run; returns its
    metrics and its training time in CPU seconds of this process."""
    start = time.process_time()
    g, _ = train_2d(dataset, method, seed, config, steps=steps, progress=progress)
    seconds = time.process_time() - start
    return evaluate_2d(g, dataset, seed, config), seconds
