"""Benchmark suite ``vae``: the VAE chapters' models, trained with the chapters' configurations.

Tasks:

* ``digits``: the digits VAE (``DIGITS_CONFIG``, ``DIGITS_TRAIN``), test NLL as an importance-weighted
  estimate (k = 1000) and as -ELBO, validation -ELBO against Tomczak's published VAE, and the
  independent-pixel baseline; averaged over seeds.
* ``linear-gaussian``: the linear VAE of the pPCA chapter; distance of its ELBO to the closed-form
  pPCA maximum log-likelihood.
* ``gaussian-2d``: the ELBO chapter's VAE on 2-D Gaussian data against the data's true entropy.

``quick=True`` shrinks every run (a few steps, small k) so that a unit test can execute the code.
"""

from __future__ import annotations

import dataclasses
import math
import time

import torch

from benchmarks import make_record
from tutorial_lib.data import load_digits_split
from tutorial_lib.chapters.linear_vae_ppca import LINEAR_DATA, LINEAR_VAE_LR, LINEAR_VAE_STEPS
from tutorial_lib.data import LinearGaussian, make_linear_gaussian_data
from tutorial_lib.vae import LinearVAE, ppca_fit, ppca_max_log_likelihood
from tutorial_lib.train import fit
from tutorial_lib.utils import get_device, seed_everything
from tutorial_lib.chapters.elbo import GAUSS2D_CONFIG, GAUSS2D_TRAIN
from tutorial_lib.chapters.vae_digits import DIGITS_CONFIG, DIGITS_TRAIN
from tutorial_lib.vae import (
    build_vae,
    elbo,
    iwae_log_likelihood,
)

TOMCZAK_VAE_VAL = 100.5  # nats/image, -ELBO on validation (Tomczak, "Deep Generative Modeling" code)


def _record(task, model, metric, value, lower, reference, reference_value, seconds, seeds) -> dict:
    return make_record(suite="vae", task=task, model=model, metric=metric, value=value, lower_is_better=lower,
                       reference=reference, reference_value=reference_value, seconds=seconds, seeds=int(seeds))


def _digits(quick: bool) -> list[dict]:
    device = get_device()
    d = load_digits_split()
    x_train, x_val, x_test = d.train.to(device), d.val.to(device), d.test.to(device)
    train = dataclasses.replace(DIGITS_TRAIN, progress=False)
    seeds, k = (1, 10) if quick else (3, 1000)
    if quick:
        train = dataclasses.replace(train, steps=20, val_every=10)
        x_test = x_test[:50]
    nll, nelbo, val_nelbo, seconds = [], [], [], 0.0
    for seed in range(seeds):
        seed_everything(seed)
        model = build_vae(DIGITS_CONFIG, device)
        start = time.perf_counter()
        fit(
            model,
            lambda m, x: -elbo(m, x).elbo.mean(),
            x_train,
            dataclasses.replace(train, seed=seed),
            val_fn=lambda m: float(-elbo(m, x_val, n_samples=10).elbo.mean()),
        )
        seconds += time.perf_counter() - start
        torch.manual_seed(seed + 1)
        with torch.no_grad():
            nelbo.append(float(-elbo(model, x_test, n_samples=100).elbo.mean()))
            val_nelbo.append(float(-elbo(model, x_val, n_samples=100).elbo.mean()))
        nll.append(float(-iwae_log_likelihood(model, x_test, k).mean()))
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    counts = torch.stack([(d.train == v).sum(0) for v in range(d.levels)], -1).double() + 1.0  # (64, 17)
    logp = (counts / counts.sum(-1, keepdim=True)).log()
    independent = float(-logp[torch.arange(64), d.test.long()].sum(1).mean())
    uniform = 64 * math.log(d.levels)
    name = "VAE (DIGITS_CONFIG)"
    return [
        _record("digits", name, f"test NLL, importance-weighted k={k} (nats/image)", mean(nll), True,
                "chapter target", 95.0, seconds, seeds),
        _record("digits", name, f"test NLL, importance-weighted k={k}, worst seed (nats/image)", max(nll), True,
                "chapter target", 95.0, seconds, seeds),
        _record("digits", name, "test -ELBO (nats/image)", mean(nelbo), True,
                "independent pixels (test)", independent, seconds, seeds),
        _record("digits", name, "validation -ELBO (nats/image)", mean(val_nelbo), True,
                "Tomczak VAE, validation -ELBO (published)", TOMCZAK_VAE_VAL, seconds, seeds),
        _record("digits", "independent pixels", "test NLL (nats/image)", independent, True,
                "uniform over 17 levels", uniform, 0.0, 1),
    ]


def _linear(quick: bool) -> list[dict]:
    x, _ = make_linear_gaussian_data(LINEAR_DATA)
    steps = 200 if quick else LINEAR_VAE_STEPS
    seed_everything(0)
    vae = LinearVAE(LINEAR_DATA.data_dim, LINEAR_DATA.latent_dim)
    opt = torch.optim.Adam(vae.parameters(), lr=LINEAR_VAE_LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    start = time.perf_counter()
    for _ in range(steps):
        loss = -vae.elbo(x).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    seconds = time.perf_counter() - start
    best = ppca_max_log_likelihood(x, LINEAR_DATA.latent_dim)
    with torch.no_grad():
        value = best - float(vae.elbo(x).mean())
    return [_record("linear-gaussian", "linear VAE", "pPCA max log-lik - ELBO (nats/point)", value, True,
                    "pPCA closed form (Tipping & Bishop 1999), target <= 0.01", 0.0, seconds, 1)]


def _gauss2d(quick: bool) -> list[dict]:
    device = get_device()
    mean, cov = torch.tensor([1.0, -0.5]), torch.tensor([[1.0, 0.8], [0.8, 1.0]])
    chol = torch.linalg.cholesky(cov)

    def sample(n: int, generator: torch.Generator) -> torch.Tensor:
        return mean + torch.randn(n, 2, generator=generator) @ chol.T

    entropy = float(0.5 * torch.logdet(2 * math.pi * math.e * cov))
    x_test = sample(5000, torch.Generator().manual_seed(123)).to(device)
    train = dataclasses.replace(GAUSS2D_TRAIN, progress=False, steps=50 if quick else GAUSS2D_TRAIN.steps)
    seed_everything(0)
    model = build_vae(GAUSS2D_CONFIG, device)
    history = fit(model, lambda m, xb: -elbo(m, xb).elbo.mean(), sample, train)
    torch.manual_seed(1)
    with torch.no_grad():
        nelbo = float(-elbo(model, x_test, n_samples=100).elbo.mean())
    return [_record("gaussian-2d", "VAE (GAUSS2D_CONFIG)", "test -ELBO (nats/point)", nelbo, True,
                    "true entropy of the data", entropy, history.seconds, 1)]


def run(quick: bool) -> list[dict]:
    """Run every task of the ``vae`` suite and return its records.

    On the CPU the models are small enough that one thread is faster than several (thread
    synchronisation dominates), as in the chapters; the previous setting is restored at the end.
    """
    threads = torch.get_num_threads()
    if get_device().type == "cpu":
        torch.set_num_threads(1)
    try:
        return _digits(quick) + _linear(quick) + _gauss2d(quick)
    finally:
        torch.set_num_threads(threads)


SUITES = {"vae": run}
