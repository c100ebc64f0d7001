"""Benchmarks of the flows part: ``flows2d`` and ``flow_digits``.

Both run the chapters' own configurations and recipes (``tutorial_lib.chapters``), so
their main rows are exactly the runs the chapters show. ``flows2d`` adds, as extra rows
whose model names state their budget, the same models trained for
``CONFIG.long_steps`` steps and ``zuko``'s neural spline flow (NSF) run like for like:
as many transforms, bins and hidden units as our spline flow, on the same interval,
trained by the same recipe (``fit`` with the chapter's ``TrainConfig``); zuko's
default-size NSF is kept as one more extra row.
"""

from __future__ import annotations

import dataclasses
import time

import torch

from benchmarks import make_record
from tutorial_lib import count_parameters
from tutorial_lib.chapters import flow_digits, flows_2d
from tutorial_lib.chapters.road_ahead import zuko_nsf
from tutorial_lib.data import load_digits_split
from tutorial_lib.flows import nll_loss
from tutorial_lib.metrics import bits_per_dim
from tutorial_lib.references import ref
from tutorial_lib.train import fit


def _record(
    suite, task, model, metric, value, reference, reference_value, seconds, seeds
):
    return make_record(
        suite=suite,
        task=task,
        model=model,
        metric=metric,
        value=value,
        lower_is_better=True,
        reference=reference,
        reference_value=reference_value,
        seconds=seconds,
        seeds=seeds,
    )


def _gap_records(task, model, flow, test, seconds, seed, reference, reference_value):
    value, se = flows_2d.gap(flow.log_prob, test)
    return [
        _record(
            "flows2d",
            task,
            model,
            "test_nll_minus_entropy",
            value,
            reference,
            reference_value,
            seconds,
            [seed],
        ),
        _record("flows2d", task, model, "gap_stderr", se, None, None, seconds, [seed]),
        _record(
            "flows2d",
            task,
            model,
            "parameters",
            count_parameters(flow),
            None,
            None,
            seconds,
            [seed],
        ),
    ]


def run_flows2d(quick: bool) -> list[dict]:
    """The chapter's twelve runs (test NLL minus the entropy on the chapter's test
    points), then the extra rows: the long budget and zuko's NSF."""
    config = flows_2d.CONFIG
    if quick:
        config = dataclasses.replace(
            config,
            datasets=config.datasets[:1],
            n_test=2_000,
            long_steps=20,
            train=dataclasses.replace(config.train, steps=20),
        )
    steps = config.train.steps
    seed = config.model_seed
    floor = "true entropy H(p) (gap >= 0)"
    records: list[dict] = []
    for task in config.datasets:
        test = flows_2d.make_test_set(config, task)
        for model in config.models:
            flow, history = flows_2d.train_flow(config, task, model)
            records += _gap_records(
                task, model, flow, test, history.seconds, seed, floor, 0.0
            )
        for model in config.models:
            flow, history = flows_2d.train_flow(
                config, task, model, steps=config.long_steps
            )
            name = f"{model} ({config.long_steps} steps)"
            records += _gap_records(
                task, name, flow, test, history.seconds, seed, floor, 0.0
            )
        for name, spec in (
            (f"zuko_nsf, same size ({steps} steps)", config.spline),
            (f"zuko_nsf, zuko defaults ({steps} steps)", None),
        ):
            torch.manual_seed(seed)
            peer = zuko_nsf(spec)
            start = time.perf_counter()
            fit(peer, nll_loss, test.density.sample, config.train)
            seconds = time.perf_counter() - start
            records += _gap_records(
                task, name, peer.eval(), test, seconds, seed, floor, 0.0
            )
    return records


def run_flow_digits(quick: bool) -> list[dict]:
    """The chapter's three digits flows: the dequantisation bound on the test images in
    nats per image and bits per dimension, against Tomczak's RealNVP (validation curve,
    converted to a discrete-equivalent bound)."""
    config = flow_digits.CONFIG
    models = tuple(config.models)
    if quick:
        config = dataclasses.replace(
            config,
            test_samples=2,
            train=dataclasses.replace(config.train, steps=20, val_every=10),
        )
        models = models[:1]
    digits = load_digits_split()
    dim = digits.test.shape[1]
    tomczak = ref("tomczak_realnvp")
    records = []
    for model in models:
        flow, history = flow_digits.train_digits_flow(
            config, digits.train, digits.val, model
        )
        nll, se = flow_digits.evaluate(config, flow, digits.test)
        seeds = [config.model_seed]
        records += [
            _record(
                "flow_digits",
                "digits test",
                model,
                "nll_nats_per_image",
                nll,
                tomczak.label,
                tomczak.value,
                history.seconds,
                seeds,
            ),
            _record(
                "flow_digits",
                "digits test",
                model,
                "nll_stderr",
                se,
                None,
                None,
                history.seconds,
                seeds,
            ),
            _record(
                "flow_digits",
                "digits test",
                model,
                "bits_per_dim",
                bits_per_dim(nll, dim),
                tomczak.label,
                bits_per_dim(tomczak.value, dim),
                history.seconds,
                seeds,
            ),
        ]
    return records


SUITES = {"flows2d": run_flows2d, "flow_digits": run_flow_digits}
