"""Measures of generative models: likelihoods (:mod:`.likelihood`), mode coverage
(:mod:`.modes`), sample distances (:mod:`.distances`), the digit classifier's features
(:mod:`.digit_features`) and anomaly detectors' scores (:mod:`.detection`)."""

from .detection import Detection, detection_metrics
from .digit_features import CLASSIFIER_TRAIN, DigitClassifier, train_classifier
from .distances import frechet_distance, frechet_distance_features, mmd2_unbiased
from .likelihood import (
    average_nll,
    bits_per_dim,
    discrete_log_likelihood,
    discrete_nll,
    entropy_mc,
)
from .modes import ModeStats, assign_modes, mode_metrics

__all__ = [
    "average_nll",
    "entropy_mc",
    "bits_per_dim",
    "discrete_log_likelihood",
    "discrete_nll",
    "Detection",
    "detection_metrics",
    "ModeStats",
    "assign_modes",
    "mode_metrics",
    "mmd2_unbiased",
    "frechet_distance",
    "frechet_distance_features",
    "DigitClassifier",
    "CLASSIFIER_TRAIN",
    "train_classifier",
]
