"""Benchmarks of the flows part: ``flows2d`` (2-D densities against their true entropy
and against ``zuko``'s NSF and RealNVP under the same budget) and ``flow_digits``.

Both train with the chapters' own configurations, imported from the library.
"""

from __future__ import annotations

import dataclasses
import math
import time

import torch

from benchmarks import make_record
from tutorial_lib.data import get_density, load_digits_split
from tutorial_lib.chapters.flow_digits import DIGITS_BASELINES, DIGITS_FLOW, build_digits_flow
from tutorial_lib.chapters.flows_2d import FLOWS2D_DATASETS, FLOWS2D_MODELS, FLOWS2D_TRAIN
from tutorial_lib.data import dequantized_sampler
from tutorial_lib.flows import build_flow
from tutorial_lib.metrics import discrete_nll
from tutorial_lib.flows import nll_loss
from tutorial_lib.train import TrainConfig, fit

SEED = 0


def _entropy(density, n: int, seed: int) -> tuple[float, float]:
    """``(H(p), standard error)`` by Monte Carlo, from the core library when present."""
    try:
        from tutorial_lib.metrics import entropy_mc
    except ImportError:  # the core metrics module is not there yet
        x = density.sample(n, torch.Generator().manual_seed(seed))
        lp = density.log_prob(x).double()
        return -lp.mean().item(), lp.std().item() / math.sqrt(n)
    return entropy_mc(density, n=n, seed=seed)


class _Zuko(torch.nn.Module):
    """Wrap a ``zuko`` lazy flow to expose ``log_prob`` like :class:`~tutorial_lib.flows.Flow`."""

    def __init__(self, flow: torch.nn.Module):
        super().__init__()
        self.flow = flow

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self.flow().log_prob(x)


def _zuko_models() -> dict[str, callable]:
    try:
        import zuko
    except ImportError:  # zuko is an optional bench dependency
        return {}
    # zuko's defaults for the hidden layers are (64, 64), like our conditioners
    return {
        "zuko_nsf": lambda: _Zuko(zuko.flows.NSF(2, transforms=3, hidden_features=(64, 64))),
        "zuko_realnvp": lambda: _Zuko(zuko.flows.RealNVP(2, transforms=3, hidden_features=(64, 64))),
    }


def _record(suite, task, model, metric, value, reference, reference_value, seconds, lower=True):
    return make_record(suite=suite, task=task, model=model, metric=metric, value=value, lower_is_better=lower,
                       reference=reference, reference_value=reference_value, seconds=seconds, seeds=[SEED])


def run_flows2d(quick: bool) -> list[dict]:
    """Train every model on every dataset for ``FLOWS2D_TRAIN.steps`` steps; record the
    test NLL minus the true entropy (an estimate of KL(p||q)) and the training time."""
    datasets = FLOWS2D_DATASETS[:1] if quick else FLOWS2D_DATASETS
    train = dataclasses.replace(FLOWS2D_TRAIN, steps=20) if quick else FLOWS2D_TRAIN
    n_test, n_entropy = (2_000, 2_000) if quick else (100_000, 200_000)
    builders = {name: (lambda c=cfg: build_flow(c, 2)) for name, cfg in FLOWS2D_MODELS.items()}
    if quick:
        builders = {"spline": builders["spline"]}
    builders.update(_zuko_models())
    records = []
    for name in datasets:
        density = get_density(name)
        h, h_se = _entropy(density, n_entropy, seed=SEED)
        x_test = density.sample(n_test, torch.Generator().manual_seed(SEED + 1))
        log_p = density.log_prob(x_test).double()
        results = {}
        for model_name, build in builders.items():
            torch.manual_seed(SEED)
            model = build()
            start = time.perf_counter()
            fit(model, nll_loss, lambda n, g, d=density: d.sample(n, g), train)
            seconds = time.perf_counter() - start
            model.eval()
            with torch.no_grad():
                log_q = torch.cat([model.log_prob(b) for b in x_test.split(20_000)]).double()
            nll, nll_se = -log_q.mean().item(), log_q.std().item() / math.sqrt(n_test)
            kl = (log_p - log_q).mean().item()  # same points: a lower-variance KL estimate
            results[model_name] = (nll - h, kl, math.hypot(nll_se, h_se), seconds)
        ref = results.get("zuko_nsf")
        for model_name, (gap, kl, se, seconds) in results.items():
            peer = model_name in ("zuko_nsf", "zuko_realnvp") or ref is None
            records.append(
                _record("flows2d", name, model_name, "test_nll_minus_entropy", gap,
                        "true entropy H(p) (gap >= 0)" if peer else "zuko NSF, same steps and batch",
                        0.0 if peer else ref[0], seconds)
            )
            records.append(_record("flows2d", name, model_name, "gap_stderr", se, None, None, seconds))
            records.append(_record("flows2d", name, model_name, "kl_same_points", kl, "0 (p = q)", 0.0, seconds))
            if not peer:
                records.append(
                    _record("flows2d", name, model_name, "seconds_over_zuko_nsf", seconds / ref[3],
                            "limit 1.2", 1.2, seconds)
                )
    return records


def run_flow_digits(quick: bool) -> list[dict]:
    """Train the digits flow (and its baselines) with validation-based selection and
    record the discrete-equivalent test NLL in nats per image and bits per dimension."""
    digits = load_digits_split()
    configs = {"spline": DIGITS_FLOW, **({} if quick else DIGITS_BASELINES)}
    records = []
    for name, cfg in configs.items():
        if quick:
            cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=20, val_every=10))
        torch.manual_seed(SEED)
        flow = build_digits_flow(cfg, digits.train.shape[1])
        start = time.perf_counter()
        fit(flow, nll_loss, dequantized_sampler(digits.train), cfg.train,
            val_fn=lambda m: discrete_nll(m, digits.val, samples=2, seed=SEED + 5)[0])
        seconds = time.perf_counter() - start
        nll, _ = discrete_nll(flow, digits.test, samples=2 if quick else 16, seed=SEED + 7)
        dim = digits.test.shape[1]
        records.append(_record("flow_digits", "digits test", name, "nll_nats_per_image", nll,
                               "target 105; Tomczak DGM RealNVP 168.4 (validation)", 105.0, seconds))
        records.append(_record("flow_digits", "digits test", name, "bits_per_dim", nll / (dim * math.log(2)),
                               "target 105 nats/image in bits/dim", 105.0 / (dim * math.log(2)), seconds))
    return records


SUITES = {"flows2d": run_flows2d, "flow_digits": run_flow_digits}
