r"""Measures of an anomaly detector: a score per input, larger meaning "more anomalous",
judged on inputs known to be normal and inputs known to be anomalous (the positives).

- AUROC: the area under the ROC curve, the probability that a random anomaly scores
  above a random normal input (ties count one half); 0.5 is chance, below 0.5 the score
  ranks the anomalies as *more* normal than the normal inputs.
- AUPR: the area under the precision-recall curve (average precision, with the
  anomalies as positives); chance is the fraction of anomalies.
- FPR95: the fraction of normal inputs flagged at the threshold that flags 95 % of the
  anomalies (lower is better).

The three are scikit-learn's ``roc_auc_score``, ``average_precision_score`` and
``roc_curve``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["Detection", "detection_metrics"]


@dataclass(frozen=True)
class Detection:
    """AUROC, AUPR (anomalies positive) and FPR at 95 % TPR of one score."""

    auroc: float
    aupr: float
    fpr95: float


def _check_scores(x: object, name: str) -> np.ndarray:
    if not isinstance(x, Tensor) or x.dim() != 1 or x.numel() < 1:
        raise ValueError(f"{name} must be a non-empty 1-D tensor, got {x!r:.60}")
    x = x.detach().double().cpu()
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} must be finite")
    return x.numpy()


def detection_metrics(normal: Tensor, anomalous: Tensor) -> Detection:
    """AUROC, AUPR and FPR95 of a score that is larger for anomalies, from its values
    on ``normal`` and on ``anomalous`` inputs (1-D tensors)."""
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

    a, b = _check_scores(normal, "normal"), _check_scores(anomalous, "anomalous")
    y = np.concatenate([np.zeros(len(a)), np.ones(len(b))])
    s = np.concatenate([a, b])
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    return Detection(
        auroc=float(roc_auc_score(y, s)),
        aupr=float(average_precision_score(y, s)),
        fpr95=float(fpr[np.searchsorted(tpr, 0.95, side="left")]),
    )
