r"""The linear-VAE chapter: a linear VAE trained on linear-Gaussian data reaches the
closed-form maximum likelihood of probabilistic PCA.

:data:`CONFIG` fixes the data and the full-batch training run; :func:`train_linear_vae`
is the run that the chapter shows, the ``vae`` benchmark reports and the tests check;
:func:`principal_angles` compares the learned decoder's subspace with pPCA's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..data.linear_gaussian import (
    LinearDataConfig,
    LinearGaussian,
    make_linear_gaussian_data,
)
from ..train import History, TrainConfig, fit
from ..utils import seed_everything
from ..vae.linear import LinearVAE

__all__ = [
    "LinearVAEConfig",
    "CONFIG",
    "make_data",
    "train_linear_vae",
    "principal_angles",
]


@dataclass(frozen=True)
class LinearVAEConfig:
    """The chapter's run: ``data`` (a synthetic pPCA data set) and ``train``, full-batch
    Adam on the exact ELBO (``train.batch_size`` must equal ``data.n``), after seeding
    the initialisation with ``seed``; ``tolerance`` (nats per point) is how close the
    final ELBO must come to the pPCA maximum."""

    data: LinearDataConfig = LinearDataConfig()
    train: TrainConfig = TrainConfig(
        steps=3000, batch_size=500, lr=0.02, cosine=True, progress=False,
        desc="linear VAE",
    )
    seed: int = 0
    tolerance: float = 0.01

    def __post_init__(self) -> None:
        if not isinstance(self.data, LinearDataConfig):
            raise ValueError(f"data must be a LinearDataConfig, got {self.data!r}")
        if self.data.latent_dim >= self.data.data_dim:
            raise ValueError("data must have latent_dim < data_dim for a linear VAE")
        if not isinstance(self.train, TrainConfig):
            raise ValueError(f"train must be a TrainConfig, got {self.train!r}")
        if self.train.batch_size != self.data.n:
            raise ValueError(
                f"train must be full-batch: batch_size {self.train.batch_size} "
                f"!= data.n {self.data.n}"
            )
        seed = self.seed
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")
        if not self.tolerance > 0:
            raise ValueError(f"tolerance must be > 0, got {self.tolerance!r}")


#: The chapter's configuration.
CONFIG = LinearVAEConfig()


def _check_config(config: object) -> LinearVAEConfig:
    if not isinstance(config, LinearVAEConfig):
        name = type(config).__name__
        raise ValueError(f"config must be a LinearVAEConfig, got {name}")
    return config


def make_data(config: LinearVAEConfig = CONFIG) -> tuple[Tensor, LinearGaussian]:
    """The chapter's data set (float64, ``(n, data_dim)``) and the true model behind
    it."""
    return make_linear_gaussian_data(_check_config(config).data)


def train_linear_vae(
    x: Tensor, config: LinearVAEConfig = CONFIG
) -> tuple[LinearVAE, History]:
    """Seed with ``config.seed``, initialise a :class:`LinearVAE` on ``x``'s device and
    maximise its exact ELBO on all of ``x`` with :func:`~tutorial_lib.train.fit`
    (``history.loss`` is the negative ELBO per data point at every step)."""
    _check_config(config)
    d = config.data
    if not isinstance(x, Tensor) or x.shape != (d.n, d.data_dim):
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"x must have shape {(d.n, d.data_dim)}, got {shape}")
    seed_everything(config.seed)
    vae = LinearVAE(d.data_dim, d.latent_dim).to(x.device)
    full_batch = lambda n, generator: x  # noqa: E731  (every step sees all of x)
    history = fit(vae, lambda m, batch: -m.elbo(batch).mean(), full_batch, config.train)
    return vae, history


def principal_angles(A: Tensor, B: Tensor) -> Tensor:
    r"""Principal angles (radians, increasing) between the column spaces of ``A`` and
    ``B`` (both ``(D, q)`` of full column rank): :math:`\arccos` of the singular values
    of :math:`Q_A^\top Q_B`, with :math:`Q` orthonormal bases from QR decompositions."""
    if A.ndim != 2 or A.shape != B.shape or A.shape[1] > A.shape[0]:
        raise ValueError(
            f"A and B must both be (D, q) with q <= D, got {tuple(A.shape)} and "
            f"{tuple(B.shape)}"
        )
    qa, _ = torch.linalg.qr(A)  # (D, q)
    qb, _ = torch.linalg.qr(B)
    cosines = torch.linalg.svdvals(qa.T @ qb).clamp(max=1.0)  # decreasing
    return torch.arccos(cosines)
