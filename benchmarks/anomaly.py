"""Benchmark of the applications chapter: suite ``anomaly``.

It runs the chapter's own recipes (``tutorial_lib.chapters.anomaly`` and
``tutorial_lib.chapters.augmentation``) with the chapter's configurations.

Anomaly detection: every likelihood model trained without the held-out classes, once
per seed (the deep ones by their chapters' recipes, from the model cache when present),
scores the normal test digits and each anomaly kind; records: AUROC, AUPR and FPR at
95 % TPR (mean over the seeds, with a ``*_stderr`` record of the standard error over
seeds) for each model, anomaly kind and score (``nll``; the remedies ``typicality`` and
``ratio``), the task naming the kind and the score. ``reference`` is chance (0.5 for
AUROC; the fraction of anomalies for AUPR; 0.95 for FPR95).

Data augmentation: test accuracy of the linear probe trained on 10 labelled digits per
class, alone and with samples of each class-conditional model (mean and standard error
over the seeds; ``reference``: the labelled digits alone).

``quick`` scores the three baselines with one seed and runs two augmentation seeds (a
smoke run, not a result).
"""

from __future__ import annotations

import dataclasses
import time

from benchmarks import make_record
from tutorial_lib.chapters import anomaly, augmentation
from tutorial_lib.chapters.gan_digits import digits_classifier
from tutorial_lib.data import load_digits_split
from tutorial_lib.utils import setup

SUITE = "anomaly"


def _anomaly_records(digits, config, families) -> list[dict]:
    records = []
    for family in families:
        scores = [anomaly.score_family(family, digits, s, config) for s in config.seeds]
        seconds = sum(s.seconds for s in scores)
        for name in anomaly.SCORES:
            table = anomaly.detection_table(scores, name)
            for kind in config.kinds:
                row = table[(family, kind)]
                n_bad = len(scores[0].anomalies[kind])
                chance = {
                    "auroc": 0.5,
                    "aupr": n_bad / (n_bad + len(scores[0].normal)),
                    "fpr95": 0.95,
                }
                for metric, (mean, se) in row.items():
                    common = dict(
                        suite=SUITE,
                        task=f"digits, {kind}, score {name}",
                        model=family,
                        lower_is_better=metric == "fpr95",
                        seconds=seconds,
                        seeds=list(config.seeds),
                    )
                    records.append(
                        make_record(
                            metric=metric,
                            value=mean,
                            reference="chance",
                            reference_value=chance[metric],
                            **common,
                        )
                    )
                    records.append(
                        make_record(
                            metric=f"{metric}_stderr",
                            value=se,
                            reference=None,
                            reference_value=None,
                            **common,
                        )
                    )
    return records


def _augmentation_records(digits, config) -> list[dict]:
    start = time.perf_counter()
    runs = augmentation.run_augmentation(digits, digits_classifier(digits), config)
    seconds = time.perf_counter() - start
    summary = augmentation.summarise(runs)
    base = summary["none"]["accuracy"]
    records = []
    for source, row in summary.items():
        for metric, key in (
            ("test_accuracy", "accuracy"),
            ("test_accuracy_stderr", "accuracy_se"),
        ):
            records.append(
                make_record(
                    suite=SUITE,
                    task=f"digits, {config.labels_per_class} labels per class",
                    model=f"augmentation: {source}",
                    metric=metric,
                    value=row[key],
                    lower_is_better=metric.endswith("stderr"),
                    reference=(
                        None if metric.endswith("stderr") else "labelled digits alone"
                    ),
                    reference_value=None if metric.endswith("stderr") else base,
                    seconds=seconds,
                    seeds=list(config.seeds),
                )
            )
    return records


def run(quick: bool) -> list[dict]:
    """The chapter's runs (the baselines with one seed, two augmentation seeds when
    ``quick``)."""
    setup(0)
    digits = load_digits_split()
    config, families = anomaly.CONFIG, anomaly.FAMILIES
    aug = augmentation.CONFIG
    if quick:
        config = dataclasses.replace(config, seeds=(0,))
        families = families[:3]
        aug = dataclasses.replace(aug, seeds=(0, 1))
    return _anomaly_records(digits, config, families) + _augmentation_records(
        digits, aug
    )


SUITES = {SUITE: run}
