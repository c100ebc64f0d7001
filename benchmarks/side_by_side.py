"""Benchmark of the side-by-side chapter: suite ``side_by_side``.

It runs the chapter's own recipe (``tutorial_lib.chapters.side_by_side``): every family
of the book on the digits split, each deep model trained by its own chapter's recipe and
configuration (taken from the model cache when present; ``seconds`` is then the training
time recorded when it was trained), and the same measures for all: test NLL in nats per
image (the record's ``reference`` names its kind), the Fréchet distance of the samples to
the test images (reference: validation images against test images), classes covered,
the mean distance to the nearest training image (reference: test images), CPU
milliseconds per sampled image, sequential passes per sample, parameters, and the linear
probe's accuracy where the model has an encoder (reference: the raw pixels).
``quick`` runs the three baselines only (a smoke run, not a result).
"""

from __future__ import annotations

import dataclasses

from benchmarks import make_record
from tutorial_lib.chapters import side_by_side as chapter
from tutorial_lib.chapters.gan_digits import digits_classifier, frechet_to_test
from tutorial_lib.data import load_digits_split
from tutorial_lib.utils import setup

SUITE = "side_by_side"


def run(quick: bool) -> list[dict]:
    """Every family of the chapter (the baselines only when ``quick``)."""
    setup(0)
    config = chapter.CONFIG
    digits = load_digits_split()
    classifier = digits_classifier(digits)
    families = chapter.FAMILIES[:3] if quick else chapter.FAMILIES
    if quick:
        config = dataclasses.replace(config, n_samples=50)
    fd_floor = frechet_to_test(classifier, digits.val, digits)
    near_floor = chapter.nearest_distance(digits.test, digits.train)
    probe_floor = chapter.linear_probe(
        digits.train, digits.train_labels, digits.test, digits.test_labels
    )
    records = []
    for family in families:
        row, _ = chapter.evaluate_family(family, digits, classifier, config)

        def record(metric, value, lower=True, reference=None, reference_value=None):
            return make_record(
                suite=SUITE,
                task="digits test",
                model=family,
                metric=metric,
                value=value,
                lower_is_better=lower,
                reference=reference,
                reference_value=reference_value,
                seconds=row.train_seconds,
                seeds=[0],
            )

        if row.nll is not None:
            records.append(
                record("nll_nats_per_image", row.nll, reference=row.nll_kind)
            )
            records.append(record("nll_stderr", row.nll_se))
        records += [
            record("frechet_distance", row.fd, True, "validation vs test", fd_floor),
            record("classes_covered", row.classes, False),
            record(
                "nearest_train_distance", row.nearest, False, "test images", near_floor
            ),
            record("sampling_ms_per_image", row.ms_per_image),
            record("passes_per_sample", row.passes),
            record("parameters", row.parameters),
        ]
        if row.probe is not None:
            records.append(
                record(
                    "linear_probe_accuracy", row.probe, False, "raw pixels", probe_floor
                )
            )
    return records


SUITES = {SUITE: run}
