"""Benchmark of the flow-matching chapter: suite ``flow_matching``.

It runs the chapter's own configuration and recipes (``tutorial_lib.chapters.
flow_matching``). 2-D: for each density, the chapter's run (``train2d.steps`` steps)
and, as extra rows whose model names state their network and budget, the longer run's
model (``long_model2d``, one hidden layer deeper, with Fourier features of the
position and a wider spread of training times) trained for ``long_steps`` steps of
``long_batch_size`` points and ``zuko``'s continuous normalizing flow
(``zuko.flows.CNF``, FFJORD-style, exact trace) trained by maximum likelihood in the
same process with the longer run's network (hidden sizes, activation, time features)
and batch size for the same CPU time as that run; the flows chapter's spline flow (its
own configuration) is the reference row. Every 2-D record is the gap, test NLL minus
the true entropy on the chapter's test points. Digits: the dequantisation bound
through the ODE on the 447 test images (the flows part's spline flow, trained in the
same process, as the reference), the training CPU seconds, the sampling seconds per
image and the NFE of the chapter's solver.
"""

from __future__ import annotations

import dataclasses
import time

import torch

from benchmarks import make_record
from tutorial_lib import count_parameters
from tutorial_lib.chapters import flow_matching as chapter
from tutorial_lib.chapters import flow_digits, flows_2d
from tutorial_lib.data import get_density, load_digits_split

SUITE = "flow_matching"
FLOOR = "true entropy H(p) (gap >= 0)"


class ZukoCNF(torch.nn.Module):
    """``zuko.flows.CNF`` with the velocity network of ``config.model2d``: the same
    hidden sizes, activation and number of time frequencies (zuko's network has no
    Fourier features of the position)."""

    def __init__(self, model2d, features: int = 2):
        super().__init__()
        import zuko

        activation = {
            "gelu": torch.nn.GELU,
            "relu": torch.nn.ReLU,
            "tanh": torch.nn.Tanh,
            "leaky_relu": torch.nn.LeakyReLU,
        }[model2d.activation]
        self.flow = zuko.flows.CNF(
            features,
            freqs=model2d.freqs,
            hidden_features=(model2d.hidden,) * model2d.depth,
            activation=activation,
        )

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self.flow().log_prob(x)


def train_zuko(config, dataset: str, cpu_seconds: float) -> tuple[ZukoCNF, int]:
    """Maximum likelihood on fresh batches of ``dataset`` (the chapter's batch size and
    learning rate, Adam) until ``cpu_seconds`` of this process's CPU time are spent;
    returns the flow and the number of steps taken."""
    torch.manual_seed(config.model_seed)
    model = ZukoCNF(config.model2d)
    density = get_density(dataset)
    generator = torch.Generator().manual_seed(config.train2d.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train2d.lr)
    start, steps = time.process_time(), 0
    model.train()
    while time.process_time() - start < cpu_seconds:
        x = density.sample(config.train2d.batch_size, generator).float()
        loss = -model.log_prob(x).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        steps += 1
    return model.eval(), steps


def _record(task, model, metric, value, seconds, seeds, reference=None, ref_value=None):
    return make_record(
        suite=SUITE,
        task=task,
        model=model,
        metric=metric,
        value=value,
        lower_is_better=metric != "parameters",
        reference=reference,
        reference_value=ref_value,
        seconds=seconds,
        seeds=seeds,
    )


def _gap_records(task, model, log_prob, test, seconds, seed, parameters):
    value, se = flows_2d.gap(log_prob, test)
    return [
        _record(
            task, model, "test_nll_minus_entropy", value, seconds, [seed], FLOOR, 0.0
        ),
        _record(task, model, "gap_stderr", se, seconds, [seed]),
        _record(task, model, "parameters", parameters, seconds, [seed]),
    ]


def run_2d(config, quick: bool) -> list[dict]:
    records = []
    seed = config.model_seed
    solver = f"{config.model2d.method} {config.model2d.steps} steps"
    for task in config.datasets:
        test = chapter.make_test_set(config, task)
        long_config = chapter.long_run_config(config)
        runs = [(config, config.train2d.steps), (long_config, config.long_steps)]
        long_cpu = 0.0
        for run_config, steps in runs:
            start = time.process_time()
            flow, _ = chapter.train_2d(run_config, task, steps=steps)
            cpu = time.process_time() - start
            long_cpu = cpu
            m, batch = run_config.model2d, run_config.train2d.batch_size
            fourier = f", {m.space_freqs} Fourier octaves" if m.space_freqs else ""
            times = f", logit-normal times {m.times}" if m.times else ""
            name = (
                f"flow matching ({m.hidden}x{m.depth}{fourier}{times}, {steps} steps "
                f"of {batch}; {solver})"
            )
            records += _gap_records(
                task, name, flow.log_prob, test, cpu, seed, count_parameters(flow)
            )
        peer, peer_steps = train_zuko(long_config, task, long_cpu)
        name = f"zuko CNF, max. likelihood ({peer_steps} steps, {long_cpu:.0f} CPU s)"
        with torch.no_grad():
            records += _gap_records(
                task, name, peer.log_prob, test, long_cpu, seed, count_parameters(peer)
            )
        if task in flows_2d.CONFIG.datasets:
            spline_config = flows_2d.CONFIG
            if quick:
                spline_config = dataclasses.replace(
                    spline_config,
                    train=dataclasses.replace(spline_config.train, steps=10),
                )
            start = time.process_time()
            spline, history = flows_2d.train_flow(spline_config, task, "spline")
            cpu = time.process_time() - start
            steps = spline_config.train.steps
            records += _gap_records(
                task,
                f"spline flow, flows chapter ({steps} steps)",
                spline.log_prob,
                test,
                cpu,
                seed,
                count_parameters(spline),
            )
    return records


def run_digits(config, quick: bool) -> list[dict]:
    digits = load_digits_split()
    start = time.process_time()
    flow, _ = chapter.train_digits(config, digits)
    cpu = time.process_time() - start
    nll, se = chapter.evaluate_digits(config, flow, digits.test)
    _, per_image = chapter.sample_digits(flow, config.n_samples, config.sample_seed)
    reference, reference_value = None, None
    if not quick:  # the flows part's spline flow, its own configuration, same process
        spline, _ = flow_digits.train_digits_flow(
            flow_digits.CONFIG, digits.train, digits.val
        )
        reference = "spline flow, flow_digits chapter (same process)"
        reference_value, _ = flow_digits.evaluate(
            flow_digits.CONFIG, spline, digits.test
        )
    seeds = [config.model_seed]
    model = (
        f"flow matching, dequantisation bound through the ODE "
        f"({config.digits.method} {config.digits.steps} steps)"
    )
    task = "digits test"
    return [
        _record(task, model, "nll_nats_per_image", nll, cpu, seeds, reference,
                reference_value),
        _record(task, model, "nll_stderr", se, cpu, seeds),
        _record(task, model, "train_cpu_seconds", cpu, cpu, seeds),
        _record(task, model, "sampling_seconds_per_image", per_image, cpu, seeds),
        _record(task, model, "nfe", flow.nfe, cpu, seeds),
    ]


def run(quick: bool) -> list[dict]:
    """The chapter's 2-D runs with the longer run, zuko's CNF at equal CPU time and the
    spline flow beside them, then the digits model; ``quick`` shrinks everything to a
    smoke run (not a result)."""
    config = chapter.CONFIG
    if quick:
        config = dataclasses.replace(
            config,
            datasets=config.datasets[:1],
            n_test=200,
            long_steps=6,
            train2d=dataclasses.replace(config.train2d, steps=5),
            model2d=dataclasses.replace(config.model2d, steps=4),
            long_model2d=dataclasses.replace(config.long_model2d, steps=4),
            digits_train=dataclasses.replace(config.digits_train, steps=3),
            digits=dataclasses.replace(config.digits, steps=2),
            n_samples=4,
        )
    return run_2d(config, quick) + run_digits(config, quick)


SUITES = {SUITE: run}
