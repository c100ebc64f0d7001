"""Benchmark suite ``hybrid``: the hybrid chapter's runs, with the chapters'
configurations and recipes (imported from :mod:`tutorial_lib.chapters`, not copied).

Task ``digits``: the digits VAE of ``vae_digits.CONFIG`` (standard normal prior) and the
same VAE with the flow prior of ``hybrid.CONFIG``, trained with the same seed and
evaluated with the digits chapter's evaluation (test NLL importance-weighted with
k = 1000, its standard error over images, test -ELBO and its KL term); the same VAE
trained with ``hybrid.train_hybrid_vae(prior="normal")`` (the identity flow, a Monte
Carlo KL) is the control that isolates the prior. A longer run (:data:`LONGER`: dropout
0.4, 1,500 steps on the importance-weighted bound with k = 5, selection on the
importance-weighted validation NLL with k = 50) is an extra pair of rows, flow prior and
identity-flow control, whose model names state the budget. The reference of every row is
the plain VAE's value, and the issue's target (90 nats) is a row of its own. The VLAE
(``hybrid.VLAE``: flow prior and a two-layer conditional gated PixelCNN decoder,
importance-weighted with k = 100) has rows against the target and against its decoder
trained alone without a code (exact NLL).

``quick=True`` shrinks every configuration with ``dataclasses.replace`` (a few steps,
small k, a test subset) so that a unit test can execute the code.
"""

from __future__ import annotations

import dataclasses

import torch

from benchmarks import make_record
from tutorial_lib.chapters import autoregressive, hybrid, vae_digits
from tutorial_lib.data import load_digits_split
from tutorial_lib.utils import get_device, set_threads

NATS = "(nats/image)"
#: The issue's target for the hybrid (nats per image, importance-weighted test NLL).
TARGET = 90.0
#: The longer run: regularised, trained longer on the importance-weighted bound.
LONGER = dataclasses.replace(
    hybrid.CONFIG,
    model=dataclasses.replace(hybrid.CONFIG.model, dropout=0.4),
    train=dataclasses.replace(hybrid.CONFIG.train, steps=1500),
    train_k=5,
    val_k=50,
)


def _digits(quick: bool) -> list[dict]:
    device = get_device()
    d = load_digits_split()
    x_train, x_val, x_test = (t.to(device) for t in (d.train, d.val, d.test))
    plain_config, config, longer = vae_digits.CONFIG, hybrid.CONFIG, LONGER
    if quick:
        train = dataclasses.replace(
            plain_config.train, steps=20, val_every=10, progress=False
        )
        plain_config = dataclasses.replace(
            plain_config, train=train, k=10, elbo_samples=5
        )
        config = dataclasses.replace(
            config, train=train, evaluation=plain_config, warmup=min(config.warmup, 5)
        )
        longer = dataclasses.replace(
            longer, train=dataclasses.replace(train, steps=10), evaluation=plain_config,
            val_k=3,
        )
        x_test = x_test[:50]
    seed = config.seed
    plain, history = vae_digits.train_digits_vae(x_train, x_val, plain_config, seed=seed)
    runs = {"VAE, N(0, I) prior (vae_digits.CONFIG)": (plain, history.seconds)}
    budget = "dropout 0.4, 1500 steps, IWAE k=5, IW validation k=50"
    for cfg, prior, name in (
        (config, "flow", "VAE + flow prior (hybrid.CONFIG)"),
        (config, "normal", "control: hybrid.CONFIG with the identity flow"),
        (longer, "flow", f"VAE + flow prior, longer run ({budget})"),
        (longer, "normal", f"control: identity flow, longer run ({budget})"),
    ):
        model, history = hybrid.train_hybrid_vae(x_train, x_val, cfg, prior, seed)
        runs[name] = (model, history.seconds)
    results = {
        name: (vae_digits.evaluate_digits_vae(m, x_val, x_test, config.evaluation), s)
        for name, (m, s) in runs.items()
    }
    k = config.evaluation.k
    plain_name = next(iter(results))
    base = results[plain_name][0]
    metrics = (
        (f"test NLL, importance-weighted k={k} {NATS}", "nll"),
        (f"standard error of the test NLL {NATS}", "nll_se"),
        (f"test -ELBO {NATS}", "nelbo"),
        (f"test KL term of the ELBO {NATS}", "kl"),
        (f"validation -ELBO {NATS}", "val_nelbo"),
    )
    records = []
    for name, (result, seconds) in results.items():
        for metric, field in metrics:
            records.append(make_record(
                suite="hybrid", task="digits", model=name, metric=metric,
                value=getattr(result, field), lower_is_better=field != "nll_se",
                reference=f"{plain_name}, same seed", reference_value=getattr(
                    base, field), seconds=seconds, seeds=[seed]))
    records += _vlae(x_train, x_val, x_test, quick, seed)
    for hybrid_name in (list(results)[1], list(results)[3]):
        records.append(make_record(
            suite="hybrid", task="digits", model=hybrid_name,
            metric=f"test NLL, importance-weighted k={k} {NATS}",
            value=results[hybrid_name][0].nll, lower_is_better=True,
            reference="target of the hybrid chapter's issue", reference_value=TARGET,
            seconds=results[hybrid_name][1], seeds=[seed]))
    return records


def _vlae(x_train, x_val, x_test, quick: bool, seed: int) -> list[dict]:
    """The chapter's VLAE (``hybrid.VLAE``, importance-weighted with its own k) and its
    decoder without a code (exact NLL, the autoregressive chapter's recipe)."""
    config = hybrid.VLAE
    if quick:
        train = dataclasses.replace(config.train, steps=10, val_every=5)
        evaluation = dataclasses.replace(config.evaluation, k=3, elbo_samples=2)
        config = dataclasses.replace(
            config, train=train, evaluation=evaluation, warmup=5
        )
    vlae, history = hybrid.train_hybrid_vae(x_train, x_val, config, "flow", seed)
    result = vae_digits.evaluate_digits_vae(vlae, x_val, x_test, config.evaluation)
    if quick:
        alone_nll, alone_seconds = float("nan"), 0.0
    else:
        alone, alone_history = hybrid.train_decoder_alone(x_train, x_val, config)
        alone_nll, alone_seconds = autoregressive.evaluate(alone, x_test)[0], (
            alone_history.seconds
        )
    name = "VLAE: flow prior + 2-layer conditional gated PixelCNN (hybrid.VLAE)"
    k = config.evaluation.k
    records = [
        make_record(
            suite="hybrid", task="digits", model=name,
            metric=f"test NLL, importance-weighted k={k} {NATS}", value=result.nll,
            lower_is_better=True, reference="target of the hybrid chapter's issue",
            reference_value=TARGET, seconds=history.seconds, seeds=[seed]),
        make_record(
            suite="hybrid", task="digits", model=name,
            metric=f"standard error of the test NLL {NATS}", value=result.nll_se,
            lower_is_better=True, reference=None, reference_value=None,
            seconds=history.seconds, seeds=[seed]),
        make_record(
            suite="hybrid", task="digits", model=name,
            metric=f"test KL term of the ELBO {NATS}", value=result.kl,
            lower_is_better=True, reference=None, reference_value=None,
            seconds=history.seconds, seeds=[seed]),
    ]
    if not quick:
        records.append(make_record(
            suite="hybrid", task="digits", model=name,
            metric=f"test NLL, importance-weighted k={k} {NATS}", value=result.nll,
            lower_is_better=True,
            reference="its decoder alone, no code (exact NLL, autoregressive recipe)",
            reference_value=alone_nll, seconds=alone_seconds, seeds=[seed]))
    return records


def run(quick: bool) -> list[dict]:
    """Run the ``hybrid`` suite and return its records, under the book's thread policy
    (:func:`~tutorial_lib.utils.set_threads`; restored at the end)."""
    threads = torch.get_num_threads()
    set_threads(get_device())
    try:
        return _digits(quick)
    finally:
        torch.set_num_threads(threads)


SUITES = {"hybrid": run}
