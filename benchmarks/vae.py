"""Benchmark suite ``vae``: the VAE chapters' runs, with the chapters' configurations
and recipes (imported from :mod:`tutorial_lib.chapters`, not copied).

Tasks:

* ``digits``: the digits VAE (``vae_digits.CONFIG``): the chapter's run (seed 0) and the
  mean over seeds 0-2 of the test NLL (importance-weighted, k = 1000) and the test
  -ELBO, the validation -ELBO beside Tomczak's value (read off a validation curve), and
  the independent-pixel baseline beside the uniform distribution.
* ``linear-gaussian``: the linear VAE of the pPCA chapter; the pPCA maximum
  log-likelihood minus the final ELBO.
* ``gaussian-2d``: the ELBO chapter's VAE on 2-D Gaussian data; test -ELBO and
  importance-weighted NLL against the data's entropy.

``quick=True`` shrinks every configuration with ``dataclasses.replace`` (a few steps,
small k, one seed) so that a unit test can execute the code.
"""

from __future__ import annotations

import dataclasses
from statistics import mean

import torch

from benchmarks import make_record
from tutorial_lib.baselines import IndependentPixels, uniform_nll
from tutorial_lib.chapters import elbo as elbo_chapter
from tutorial_lib.chapters import linear_vae_ppca, vae_digits
from tutorial_lib.data import load_digits_split
from tutorial_lib.references import ref
from tutorial_lib.utils import get_device, set_threads
from tutorial_lib.vae import ppca_max_log_likelihood

NATS = "(nats/image)"


def _record(task, model, metric, value, lower, reference, ref_value, seconds, seeds):
    return make_record(
        suite="vae", task=task, model=model, metric=metric, value=value,
        lower_is_better=lower, reference=reference, reference_value=ref_value,
        seconds=seconds, seeds=seeds,
    )


def _digits(quick: bool) -> list[dict]:
    device = get_device()
    d = load_digits_split()
    x_train, x_val, x_test = (t.to(device) for t in (d.train, d.val, d.test))
    config, seeds = vae_digits.CONFIG, [0, 1, 2]
    if quick:
        train = dataclasses.replace(
            config.train, steps=20, val_every=10, progress=False
        )
        config = dataclasses.replace(config, train=train, k=10, elbo_samples=5)
        seeds, x_test = [0], x_test[:50]
    runs, times = [], []
    for seed in seeds:
        model, history = vae_digits.train_digits_vae(x_train, x_val, config, seed=seed)
        times.append(history.seconds)
        eval_seed = config.eval_seed + seed
        result = vae_digits.evaluate_digits_vae(model, x_val, x_test, config, eval_seed)
        runs.append(result)
    independent = float(-IndependentPixels(d.train, d.levels).log_prob(d.test).mean())
    uniform = uniform_nll(d.test.shape[1], d.levels)
    tomczak = ref("tomczak_vae")
    k, one, seconds = config.k, runs[0], sum(times)
    all_seeds = f"VAE (vae_digits.CONFIG), seeds {seeds}"
    chapter = "VAE (vae_digits.CONFIG), the chapter's run"
    iw = f"test NLL, importance-weighted k={k} {NATS}"
    return [
        _record("digits", chapter, iw, one.nll, True, "independent pixels (test)",
                independent, times[0], [seeds[0]]),
        _record("digits", all_seeds, iw, mean(r.nll for r in runs), True,
                "independent pixels (test)", independent, seconds, seeds),
        _record("digits", all_seeds, f"test NLL, importance-weighted k={k}, worst seed "
                f"{NATS}", max(r.nll for r in runs), True, "independent pixels (test)",
                independent, seconds, seeds),
        _record("digits", all_seeds, f"test -ELBO {NATS}", mean(r.nelbo for r in runs),
                True, "independent pixels (test)", independent, seconds, seeds),
        _record("digits", all_seeds, f"validation -ELBO {NATS}",
                mean(r.val_nelbo for r in runs), True, tomczak.label, tomczak.value,
                seconds, seeds),
        _record("digits", "independent pixels (add-one counts)", f"test NLL {NATS}",
                independent, True, "uniform over 17 levels", uniform, 0.0, 1),
    ]


def _linear(quick: bool) -> list[dict]:
    config = linear_vae_ppca.CONFIG
    if quick:
        config = dataclasses.replace(
            config, train=dataclasses.replace(config.train, steps=200)
        )
    x, _ = linear_vae_ppca.make_data(config)
    vae, history = linear_vae_ppca.train_linear_vae(x, config)
    best = ppca_max_log_likelihood(x, config.data.latent_dim)
    with torch.no_grad():
        value = best - float(vae.elbo(x).mean())
    return [
        _record("linear-gaussian", "linear VAE (linear_vae_ppca.CONFIG)",
                "pPCA max log-lik - ELBO (nats/point)", value, True,
                "pPCA closed form (Tipping & Bishop 1999)", 0.0, history.seconds, 1)
    ]


def _gauss2d(quick: bool) -> list[dict]:
    config = elbo_chapter.CONFIG
    if quick:
        train = dataclasses.replace(config.train, steps=50, progress=False)
        config = dataclasses.replace(config, train=train, test_size=500, k=10)
    model, history = elbo_chapter.train_vae_2d(config, get_device())
    result = elbo_chapter.evaluate_vae_2d(model, config)
    name, ref_name = "VAE (elbo.CONFIG)", "true entropy of the data"
    return [
        _record("gaussian-2d", name, "test -ELBO (nats/point)", result.nelbo, True,
                ref_name, result.entropy, history.seconds, 1),
        _record("gaussian-2d", name, f"test NLL, importance-weighted k={config.k} "
                "(nats/point)", result.nll, True, ref_name, result.entropy,
                history.seconds, 1),
    ]


def run(quick: bool) -> list[dict]:
    """Run every task of the ``vae`` suite and return its records, under the book's
    thread policy (:func:`~tutorial_lib.utils.set_threads`; restored at the end)."""
    threads = torch.get_num_threads()
    set_threads(get_device())
    try:
        return _digits(quick) + _linear(quick) + _gauss2d(quick)
    finally:
        torch.set_num_threads(threads)


SUITES = {"vae": run}
