"""Benchmark of the autoregressive chapter: suite ``autoregressive``.

It runs the chapter's own configuration and recipes (``tutorial_lib.chapters.
autoregressive``): the digits model and the MADE it is compared with, each trained on
the 1,000 training images with selection on the 350 validation images; the exact NLL on
the 447 test images (nats per image) with its standard error, the validation NLL, the
CPU seconds of training (``time.process_time`` of this process) and the CPU seconds per
image of sequential sampling. Tomczak's autoregressive model (read off his validation
curve, same split) is the reference.
"""

from __future__ import annotations

import dataclasses
import time

import torch

from benchmarks import make_record
from tutorial_lib.chapters import autoregressive as chapter
from tutorial_lib.data import load_digits_split
from tutorial_lib.references import ref

SUITE = "autoregressive"


def _records(model_name, model, digits, config, seconds, seeds):
    tomczak = ref("tomczak_arm")
    test, se = chapter.evaluate(model, digits.test)
    val, _ = chapter.evaluate(model, digits.val)
    generator = torch.Generator().manual_seed(config.sample_seed)
    _, per_image = chapter.sampling_seconds(model, config.n_samples, generator)

    def record(metric, value, reference=None, reference_value=None):
        return make_record(
            suite=SUITE,
            task="digits test" if metric != "val_nll_nats_per_image" else "digits val",
            model=model_name,
            metric=metric,
            value=value,
            lower_is_better=True,
            reference=reference,
            reference_value=reference_value,
            seconds=seconds,
            seeds=seeds,
        )

    return [
        record("nll_nats_per_image", test, tomczak.label, tomczak.value),
        record("nll_stderr", se),
        record("val_nll_nats_per_image", val, tomczak.label, tomczak.value),
        record("train_cpu_seconds", seconds),
        record("sampling_seconds_per_image", per_image),
    ]


def run(quick: bool) -> list[dict]:
    """The chapter's digits model and its MADE; ``quick`` shrinks every training run to
    a few steps (a smoke run, not a result)."""
    config = chapter.CONFIG
    if quick:
        short = dict(steps=4, val_every=2)
        config = dataclasses.replace(
            config,
            train=dataclasses.replace(config.train, **short),
            made_train=dataclasses.replace(config.made_train, **short),
            n_samples=2,
        )
    digits = load_digits_split()
    records = []
    start = time.process_time()
    model, _ = chapter.train_digits_model(config, digits.train, digits.val)
    seconds = time.process_time() - start
    seeds = [config.model_seed + k for k in range(config.components)]
    name = f"{config.model.kind} x{config.components}" if config.components > 1 else (
        config.model.kind
    )
    records += _records(name, model, digits, config, seconds, seeds)
    start = time.process_time()
    made, _ = chapter.train_model(
        config, config.made, digits.train, digits.val, train_config=config.made_train
    )
    seconds = time.process_time() - start
    records += _records("made", made, digits, config, seconds, [config.model_seed])
    return records


SUITES = {SUITE: run}
