r"""The foundations chapter: the configuration of its baseline experiment."""

from __future__ import annotations

from dataclasses import dataclass

from ..baselines import GMMConfig, KDEConfig

__all__ = ["BaselineConfig", "FOUNDATIONS_BASELINES"]


@dataclass(frozen=True)
class BaselineConfig:
    """Sample sizes of the baseline experiment of the foundations chapter."""

    n_train: int = 5_000
    n_val: int = 2_000
    n_test: int = 5_000
    n_entropy: int = 10_000
    gmm: GMMConfig = GMMConfig()
    kde: KDEConfig = KDEConfig()
    seed: int = 0


#: The configuration the foundations chapter uses for its NLL - H(p) table.
FOUNDATIONS_BASELINES = BaselineConfig()
