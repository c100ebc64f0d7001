r"""The 2-D flows chapter: its data sets, its three models and their training."""

from __future__ import annotations

from ..flows.build import FlowConfig
from ..train import TrainConfig

__all__ = ["FLOWS2D_DATASETS", "FLOWS2D_MODELS", "FLOWS2D_TRAIN", "FLOWS2D_NOTEBOOK_TRAIN"]


#: The 2-D densities of the flows chapter and the ``flows2d`` benchmark.
FLOWS2D_DATASETS: tuple[str, ...] = ("8gaussians", "moons", "checkerboard", "2spirals")


#: The three models compared on 2-D densities (same step budget and batch size).
FLOWS2D_MODELS: dict[str, FlowConfig] = {
    "realnvp": FlowConfig("realnvp", layers=8, hidden=64, depth=2),
    "maf": FlowConfig("maf", layers=8, hidden=64, depth=2),
    "spline": FlowConfig("spline", layers=4, hidden=64, depth=2, bins=16, bound=4.0),
}


#: Training of the ``flows2d`` benchmark (the full budget).
FLOWS2D_TRAIN = TrainConfig(steps=3000, batch_size=512, lr=2e-3, cosine=True, progress=False, desc="flows2d")


#: The shorter run the chapter executes (same models, fewer steps).
FLOWS2D_NOTEBOOK_TRAIN = TrainConfig(steps=600, batch_size=512, lr=2e-3, cosine=True, progress=False, desc="flows2d")
