"""Benchmark of the diffusion chapter: suite ``diffusion``.

It runs the chapter's own configuration and recipes (``tutorial_lib.chapters.
diffusion``). 2-D: the denoiser of each dataset, scored by the probability-flow ODE's
test NLL minus the true entropy on the chapter's test points (the floor is 0), beside
the flows chapter's spline flow trained by its own recipe (``flows_2d.train_flow``)
and scored on the same points. Digits: the continuous-time bound (an ELBO, discrete
decoder at t = 0) on the 447 test images in nats per image with its standard error,
the validation bound, the CPU seconds of training (``time.process_time`` of this
process) and the CPU seconds per image of ancestral sampling with the most steps of
``CONFIG.sample_steps``. Tomczak's VAE (read off his validation curve, same split) is
the reference of the digits rows.
"""

from __future__ import annotations

import dataclasses
import time

import torch

from benchmarks import make_record
from tutorial_lib.chapters import diffusion as chapter
from tutorial_lib.chapters import flows_2d
from tutorial_lib.data import load_digits_split
from tutorial_lib.references import ref

SUITE = "diffusion"
FLOOR = "true entropy H(p) (gap >= 0)"


def _record(task, model, metric, value, seconds, seeds, reference=None, ref_value=None):
    return make_record(
        suite=SUITE,
        task=task,
        model=model,
        metric=metric,
        value=value,
        lower_is_better=True,
        reference=reference,
        reference_value=ref_value,
        seconds=seconds,
        seeds=seeds,
    )


def _two_d(config, quick: bool) -> list[dict]:
    records = []
    spline_steps = 3 if quick else None
    for dataset in config.datasets:
        test = chapter.make_test_set(config, dataset)
        start = time.process_time()
        model, _ = chapter.train_2d(config, dataset)
        seconds = time.process_time() - start
        gap, se = chapter.gap_2d(config, model, test)
        name = f"diffusion MLP, PF-ODE rk4 x{config.ode_steps}"
        seeds = [config.model_seed]
        records.append(
            _record(
                dataset, name, "test_nll_minus_entropy", gap, seconds, seeds, FLOOR, 0.0
            )
        )
        records.append(_record(dataset, name, "gap_stderr", se, seconds, seeds))
        start = time.process_time()
        flow, _ = flows_2d.train_flow(
            flows_2d.CONFIG, dataset, "spline", steps=spline_steps
        )
        seconds = time.process_time() - start
        gap, _ = flows_2d.gap(flow.log_prob, test)
        records.append(
            _record(
                dataset,
                f"spline flow (flows chapter, {flows_2d.CONFIG.train.steps} steps)",
                "test_nll_minus_entropy",
                gap,
                seconds,
                [flows_2d.CONFIG.model_seed],
                FLOOR,
                0.0,
            )
        )
    return records


def _digits(config) -> list[dict]:
    split = load_digits_split()
    start = time.process_time()
    model, _ = chapter.train_digits(config, split)
    seconds = time.process_time() - start
    test = chapter.digits_bound(config, model, split.test)
    val = chapter.digits_bound(config, model, split.val)
    steps = max(config.sample_steps)
    _, per_image = chapter.sampling_seconds(
        config, model, config.n_samples, steps, config.sample_seed
    )
    tomczak = ref("tomczak_vae")
    name = (
        "diffusion, conv denoiser (ELBO, continuous time, "
        f"{config.elbo_samples} t/image)"
    )
    seeds = [config.model_seed]
    return [
        _record(
            "digits test",
            name,
            "nll_nats_per_image",
            test["total"],
            seconds,
            seeds,
            tomczak.label,
            tomczak.value,
        ),
        _record("digits test", name, "nll_stderr", test["stderr"], seconds, seeds),
        _record(
            "digits val",
            name,
            "val_nll_nats_per_image",
            val["total"],
            seconds,
            seeds,
            tomczak.label,
            tomczak.value,
        ),
        _record("digits test", name, "train_cpu_seconds", seconds, seconds, seeds),
        _record(
            "digits test",
            f"{name}, {steps} ancestral steps",
            "sampling_seconds_per_image",
            per_image,
            seconds,
            seeds,
        ),
    ]


def run(quick: bool) -> list[dict]:
    """The chapter's 2-D denoisers (with the spline flow beside them) and its digits
    model; ``quick`` shrinks every run to a few steps (a smoke run, not a result)."""
    config = chapter.CONFIG
    if quick:
        config = dataclasses.replace(
            config,
            datasets=config.datasets[:1],
            train_2d=dataclasses.replace(config.train_2d, steps=3),
            n_test=50,
            ode_steps=2,
            width=8,
            depth=1,
            train_digits=dataclasses.replace(config.train_digits, steps=3, val_every=2),
            val_samples=1,
            elbo_samples=1,
            sample_steps=(2,),
            n_samples=4,
        )
    torch.manual_seed(0)
    return _two_d(config, quick) + _digits(config)


SUITES = {SUITE: run}
