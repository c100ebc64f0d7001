"""Tests of tutorial_lib.diffusion and of the diffusion chapter's recipes: the
closed-form marginal against a simulated chain, the posterior against Bayes' rule by
quadrature, the bound's terms against a direct Monte Carlo of the log-ratio, the discrete decoder's
normalisation, Tweedie's formula and the probability-flow likelihood against Gaussian
data's exact answers, the benchmark's quick mode, and the bad-argument rows.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import sys
from pathlib import Path

import torch
from bad_arguments import BadArg
from torch import nn
from torch.distributions import Normal

from tutorial_lib.chapters import diffusion as chapter
from tutorial_lib.diffusion import (
    DiscreteDenoiser,
    LogSNRSchedule,
    MLPDenoiser,
    alpha_sigma,
    ancestral_sample,
    decoder_log_probs,
    diffusion_loss,
    discrete_diffusion_loss,
    elbo_terms,
    empirical_logits,
    grid_values,
    logsnr_features,
    pf_ode_log_prob,
    pf_ode_sample,
    pf_ode_velocity,
    posterior,
    prior_kl,
    q_sample,
    score,
    stratified_times,
    train_denoiser,
    transition,
    tweedie,
    x_from_eps,
)
from tutorial_lib.train import TrainConfig

SCHEDULE = LogSNRSchedule(6.0, -8.0)


class GaussianDenoiser(nn.Module):
    r"""The exact noise predictor of Gaussian data :math:`N(\mu, \mathrm{diag}(s^2))`:
    :math:`E[\epsilon | z] = \sigma (z - \alpha\mu) / (\alpha^2 s^2 + \sigma^2)`."""

    def __init__(self, mu: torch.Tensor, s: torch.Tensor):
        super().__init__()
        self.register_buffer("mu", mu)
        self.register_buffer("s", s)
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, z, logsnr):
        alpha, sigma = alpha_sigma(logsnr[:, None].to(z.dtype))
        return sigma * (z - alpha * self.mu) / (alpha**2 * self.s**2 + sigma**2)


def test_marginal_matches_a_simulated_chain():
    gen = torch.Generator().manual_seed(0)
    x = torch.full((200_000, 1), 0.7, dtype=torch.float64)
    times = SCHEDULE.grid(8, torch.float64)
    z = x
    for i in range(1, 9):
        ls, lt = SCHEDULE.logsnr(times[i - 1]), SCHEDULE.logsnr(times[i])
        if i == 1:  # from the data to t_1 in closed form, then step by step
            z = q_sample(x, lt, torch.randn(x.shape, generator=gen, dtype=x.dtype))
            continue
        z = transition(z, ls, lt, torch.randn(x.shape, generator=gen, dtype=x.dtype))
    alpha, sigma = SCHEDULE.alpha_sigma(times[-1])
    se_mean = sigma.item() / math.sqrt(len(z))
    assert abs(z.mean().item() - 0.7 * alpha.item()) < 5 * se_mean
    # the variance's standard error is about var * sqrt(2 / n)
    assert abs(z.var().item() - sigma.item() ** 2) < 5 * sigma.item() ** 2 * math.sqrt(
        2 / len(z)
    )


def test_posterior_matches_bayes_rule_by_quadrature():
    x = torch.tensor([[0.3]], dtype=torch.float64)
    ls, lt = (
        torch.tensor(1.5, dtype=torch.float64),
        torch.tensor(-0.5, dtype=torch.float64),
    )
    zt = torch.tensor([[0.9]], dtype=torch.float64)
    mean, var = posterior(x, zt, ls, lt)
    # Bayes: q(z_s | z_t, x) proportional to q(z_t | z_s) q(z_s | x), on a fine grid
    a_s, s_s = alpha_sigma(ls)
    a_t, s_t = alpha_sigma(lt)
    a_ts = a_t / a_s
    v_ts = s_t**2 - a_ts**2 * s_s**2
    grid = torch.linspace(-6, 6, 200_001, dtype=torch.float64)
    log_w = Normal(a_ts * grid, v_ts.sqrt()).log_prob(zt[0, 0]) + Normal(
        a_s * x[0, 0], s_s
    ).log_prob(grid)
    w = torch.softmax(log_w, 0)
    m = (w * grid).sum()
    v = (w * (grid - m) ** 2).sum()
    assert abs(mean.item() - m.item()) < 1e-8
    assert abs(var.item() - v.item()) < 1e-8


def test_decoder_sums_to_one_over_the_levels_and_rounds_at_high_snr():
    z0 = torch.randn(5, 64, generator=torch.Generator().manual_seed(1))
    logp = decoder_log_probs(z0, torch.full((5,), 10.0), 17)
    assert logp.shape == (5, 64, 17)
    torch.testing.assert_close(logp.exp().sum(-1), torch.ones(5, 64))
    x = torch.randint(0, 17, (3, 64), generator=torch.Generator().manual_seed(2))
    c = grid_values(17)
    z0 = q_sample(c[x], torch.tensor(10.0), torch.zeros(3, 64))
    assert (decoder_log_probs(z0, torch.full((3,), 10.0), 17).argmax(-1) == x).all()


def _direct_log_ratio(model, x, schedule, steps, gen):
    """Draws of log q(z_0..z_T | x) - log p(x, z_0..z_T) with torch.distributions."""
    levels = 17
    c = grid_values(levels).double()
    unit = c[x]
    times = schedule.grid(steps, torch.float64)
    lam = [schedule.logsnr(t) for t in times]
    a0, s0 = alpha_sigma(lam[0])
    z = [unit * a0 + s0 * torch.randn(unit.shape, generator=gen, dtype=torch.float64)]
    log_q = Normal(a0 * unit, s0).log_prob(z[0]).sum(1)
    for i in range(1, steps + 1):
        a_s, s_s = alpha_sigma(lam[i - 1])
        a_t, s_t = alpha_sigma(lam[i])
        a_ts, v_ts = a_t / a_s, s_t**2 - (a_t / a_s) ** 2 * s_s**2
        zi = a_ts * z[-1] + v_ts.sqrt() * torch.randn(
            unit.shape, generator=gen, dtype=torch.float64
        )
        log_q = log_q + Normal(a_ts * z[-1], v_ts.sqrt()).log_prob(zi).sum(1)
        z.append(zi)
    log_p = Normal(0.0, 1.0).log_prob(z[-1]).sum(1)
    n = len(x)
    for i in range(steps, 0, -1):
        lt, ls = lam[i].expand(n), lam[i - 1].expand(n)
        x_hat = x_from_eps(z[i], model(z[i], lt), lt)
        mean, var = posterior(x_hat, z[i], ls, lt)
        log_p = log_p + Normal(mean, var.sqrt()).log_prob(z[i - 1]).sum(1)
    dec = decoder_log_probs(z[0], lam[0].expand(n), levels)
    log_p = log_p + dec.gather(-1, x[..., None]).squeeze(-1).sum(1)
    return log_q - log_p


def test_bound_terms_sum_to_the_direct_monte_carlo_bound():
    torch.manual_seed(0)
    d, steps = 4, 3
    schedule = LogSNRSchedule(4.0, -4.0)
    model = DiscreteDenoiser(d, 17, hidden=16, depth=1, frequencies=1).double()
    with torch.no_grad():  # a denoiser that is not exact, so every KL term is positive
        for p in model.net.parameters():
            p.copy_(0.3 * torch.randn(p.shape, dtype=p.dtype))
    x = torch.randint(0, 17, (1, d), generator=torch.Generator().manual_seed(3)).expand(
        20_000, d
    )
    direct = _direct_log_ratio(
        model, x, schedule, steps, torch.Generator().manual_seed(4)
    )
    with torch.no_grad():
        terms = elbo_terms(
            model,
            x.double(),
            schedule,
            17,
            torch.Generator().manual_seed(5),
            steps=steps,
        )
    se = math.hypot(direct.std().item(), terms["total"].std().item()) / math.sqrt(
        len(x)
    )
    assert abs(direct.mean().item() - terms["total"].mean().item()) < 5 * se
    assert set(terms) == {"reconstruction", "prior", "diffusion", "total"}


def test_discrete_bound_approaches_the_continuous_one():
    """With the same times and noise, the T-step diffusion term tends to the
    continuous-time one as T grows (a Riemann sum of the integral)."""
    torch.manual_seed(0)
    model = DiscreteDenoiser(3, 5, hidden=8, depth=1, frequencies=1).double()
    with torch.no_grad():
        for p in model.net.parameters():
            p.copy_(0.3 * torch.randn(p.shape, dtype=p.dtype))
    x = torch.randint(
        0, 5, (4000, 3), generator=torch.Generator().manual_seed(1)
    ).double()
    sched = LogSNRSchedule(3.0, -3.0)
    cont = elbo_terms(model, x, sched, 5, torch.Generator().manual_seed(2), samples=4)
    disc = elbo_terms(
        model, x, sched, 5, torch.Generator().manual_seed(2), steps=2000, samples=4
    )
    se = cont["diffusion"].std().item() / math.sqrt(len(x))
    assert (
        abs(cont["diffusion"].mean().item() - disc["diffusion"].mean().item()) < 5 * se
    )


def test_prior_kl_matches_torch_distributions():
    x = torch.randn(
        6, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    lam = torch.tensor(-2.0, dtype=torch.float64)
    a, s = alpha_sigma(lam)
    expected = torch.distributions.kl_divergence(
        Normal(a * x, s), Normal(0.0, 1.0)
    ).sum(1)
    torch.testing.assert_close(prior_kl(x, lam), expected)


def test_tweedie_and_score_of_gaussian_data_are_exact():
    mu = torch.tensor([0.5, -1.0], dtype=torch.float64)
    s = torch.tensor([0.3, 2.0], dtype=torch.float64)
    model = GaussianDenoiser(mu, s).double()
    z = torch.randn(
        10, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    lam = torch.full((10,), 0.7, dtype=torch.float64)
    a, sg = alpha_sigma(lam[:, None])
    # the exact posterior mean of x given z: Gaussian conditioning
    expected = mu + a * s**2 / (a**2 * s**2 + sg**2) * (z - a * mu)
    torch.testing.assert_close(tweedie(z, score(model, z, lam), lam), expected)
    zg = z.clone().requires_grad_(True)
    log_q = Normal(a * mu, (a**2 * s**2 + sg**2).sqrt()).log_prob(zg).sum()
    (exact,) = torch.autograd.grad(log_q, zg)
    torch.testing.assert_close(score(model, z, lam), exact)


def test_pf_ode_likelihood_of_gaussian_data_is_the_exact_density():
    mu = torch.tensor([0.5, -1.0], dtype=torch.float64)
    s = torch.tensor([0.3, 2.0], dtype=torch.float64)
    # q_1 = N(0, I) up to alpha_1 |mu| ~ 3e-7 (the base the model uses)
    schedule = LogSNRSchedule(6.0, -30.0)
    model = GaussianDenoiser(mu, s).double()
    x = mu + s * torch.randn(
        50, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64
    )
    log_p = pf_ode_log_prob(model, schedule, x, steps=200)
    a0, s0 = schedule.alpha_sigma(torch.zeros((), dtype=torch.float64))
    # the model's x is z_0 / alpha_0 with z_0 ~ N(alpha_0 mu, alpha_0^2 s^2 + sigma_0^2)
    exact = (
        Normal(a0 * mu, (a0**2 * s**2 + s0**2).sqrt()).log_prob(a0 * x).sum(1)
        + 2 * a0.log()
    )
    torch.testing.assert_close(log_p, exact, atol=1e-4, rtol=0)


def test_pf_ode_samples_of_gaussian_data_have_its_moments():
    mu = torch.tensor([0.5, -1.0], dtype=torch.float64)
    s = torch.tensor([0.3, 2.0], dtype=torch.float64)
    model = GaussianDenoiser(mu, s).double()
    schedule = LogSNRSchedule(8.0, -14.0)
    z = pf_ode_sample(
        model, 40_000, 2, schedule, 100, torch.Generator().manual_seed(2)
    ).double()
    a0, _ = schedule.alpha_sigma(torch.zeros((), dtype=torch.float64))
    x = z / a0
    assert (x.mean(0) - mu).abs().max() < 5 * s.max() / math.sqrt(len(x))
    torch.testing.assert_close(x.std(0), s, atol=0.03, rtol=0.02)


def test_ancestral_sampling_of_gaussian_data_has_its_moments():
    mu = torch.tensor([0.5, -1.0])
    s = torch.tensor([0.3, 1.5])
    model = GaussianDenoiser(mu, s)
    z = ancestral_sample(
        model,
        40_000,
        2,
        LogSNRSchedule(8.0, -12.0),
        400,
        torch.Generator().manual_seed(3),
    )
    assert (z.mean(0) - mu).abs().max() < 5 * 1.5 / math.sqrt(len(z))
    torch.testing.assert_close(z.std(0), s, atol=0.03, rtol=0.03)


def test_untrained_discrete_denoiser_is_the_independent_pixel_posterior_mean():
    torch.manual_seed(0)
    pixels = torch.randint(0, 5, (50, 3), generator=torch.Generator().manual_seed(1))
    prior = empirical_logits(pixels, 5)
    torch.testing.assert_close(prior.exp().sum(1), torch.ones(3))
    model = DiscreteDenoiser(3, 5, hidden=8, depth=1, prior_logits=prior).double()
    z = torch.randn(
        7, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64
    )
    lam = torch.full((7,), 1.3, dtype=torch.float64)
    a, s = alpha_sigma(lam[0])
    c = grid_values(5).double()
    # Bayes by hand: p(k | z_i) proportional to pi_ik N(z_i; a c_k, s^2)
    log_w = prior.double()[None] + Normal(a * c, s).log_prob(z[..., None])
    expected = (torch.softmax(log_w, -1) * c).sum(-1)
    torch.testing.assert_close(model.x_hat(z, lam), expected)


def test_stratified_times_fill_every_interval_once():
    t = stratified_times(10, torch.Generator().manual_seed(0))
    assert sorted((t * 10).floor().long().tolist()) == list(range(10))


def test_pf_ode_velocity_is_the_score_form():
    """v = f z - g^2/2 score with f = lambda' sigma^2 / 2 and g^2 = -lambda' sigma^2,
    from alpha^2 = sigmoid(lambda): checked by finite differences of log alpha and
    sigma^2."""
    model = GaussianDenoiser(torch.tensor([0.2]), torch.tensor([0.5]))
    v = pf_ode_velocity(model, SCHEDULE)
    t, h = torch.tensor(0.4, dtype=torch.float64), 1e-6
    z = torch.tensor([[0.3]])
    a = lambda u: SCHEDULE.alpha_sigma(u)  # noqa: E731
    f = (a(t + h)[0].log() - a(t - h)[0].log()) / (2 * h)
    g2 = (a(t + h)[1] ** 2 - a(t - h)[1] ** 2) / (2 * h) - 2 * f * a(t)[1] ** 2
    lam = SCHEDULE.logsnr(t.float()).reshape(1)
    expected = f.float() * z - 0.5 * g2.float() * score(model, z, lam)
    torch.testing.assert_close(v(t.float(), z), expected, atol=1e-5, rtol=1e-4)


def test_training_lowers_the_loss_and_is_deterministic():
    cfg = TrainConfig(steps=60, batch_size=64, lr=3e-3, progress=False)
    data = torch.randn(256, 2, generator=torch.Generator().manual_seed(0)) * 0.3 + 1.0
    losses = []
    for _ in range(2):
        torch.manual_seed(0)
        model = MLPDenoiser(2, 32, 2)
        losses.append(train_denoiser(model, data, SCHEDULE, cfg).loss)
    assert losses[0] == losses[1]
    assert sum(losses[0][-10:]) < sum(losses[0][:10])


def test_chapter_digits_recipe_runs_on_a_small_config():
    from tutorial_lib.data import load_digits_split

    split = load_digits_split()
    config = dataclasses.replace(
        chapter.CONFIG,
        width=8,
        depth=1,
        train_digits=dataclasses.replace(
            chapter.CONFIG.train_digits, steps=3, val_every=2
        ),
        elbo_samples=2,
        val_samples=1,
    )
    model, history = chapter.train_digits(config, split)
    bound = chapter.digits_bound(config, model, split.test[:20])
    assert bound["total"] > 0 and bound["stderr"] > 0
    # an untrained correction is the independent-pixel model: its bound is near 106 nats
    assert 90 < bound["total"] < 130
    x = chapter.sample_digits(config, model, 3, 4, seed=0)
    assert (
        x.shape == (3, 64) and x.min() >= 0 and x.max() <= 16 and (x == x.round()).all()
    )


def test_benchmark_quick_mode_runs():
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    bench = importlib.import_module("benchmarks.diffusion")
    keys = set(importlib.import_module("benchmarks").RECORD_KEYS)
    records = bench.run(quick=True)
    names = {r["metric"] for r in records}
    assert {
        "test_nll_minus_entropy",
        "nll_nats_per_image",
        "sampling_seconds_per_image",
    } <= names
    for r in records:
        assert set(r) == keys and r["suite"] == "diffusion"
        assert math.isfinite(r["value"]) and r["seconds"] >= 0


_D = DiscreteDenoiser(4, 3, hidden=4, depth=1)
_M = MLPDenoiser(2, 4, 1)

BAD_ARGUMENTS = [
    BadArg(alpha_sigma, lambda: alpha_sigma(3), "logsnr"),
    BadArg(LogSNRSchedule, lambda: LogSNRSchedule(-1.0, 1.0), "logsnr_max"),
    BadArg(LogSNRSchedule.logsnr, lambda: SCHEDULE.logsnr(0.5), "t"),
    BadArg(LogSNRSchedule.grid, lambda: SCHEDULE.grid(0), "steps"),
    BadArg(
        q_sample,
        lambda: q_sample(torch.zeros(2, 2), torch.zeros(()), torch.zeros(2, 3)),
        "noise",
    ),
    BadArg(
        transition,
        lambda: transition(
            torch.zeros(2, 2), torch.ones(()), torch.zeros(()), torch.zeros(3)
        ),
        "noise",
    ),
    BadArg(
        posterior,
        lambda: posterior(
            torch.zeros(2, 2), torch.zeros(2, 2), torch.zeros(()), torch.ones(())
        ),
        "logsnr_s",
    ),
    BadArg(logsnr_features, lambda: logsnr_features(torch.zeros(2), -1), "frequencies"),
    BadArg(grid_values, lambda: grid_values(1), "levels"),
    BadArg(
        empirical_logits,
        lambda: empirical_logits(torch.zeros(3, 2), 3, pseudocount=0.0),
        "pseudocount",
    ),
    BadArg(MLPDenoiser, lambda: MLPDenoiser(0), "dim"),
    BadArg(
        MLPDenoiser.forward, lambda: _M(torch.zeros(3, 2), torch.zeros(2)), "logsnr"
    ),
    BadArg(DiscreteDenoiser, lambda: DiscreteDenoiser(4, 3, shape=(3, 3)), "shape"),
    BadArg(
        DiscreteDenoiser.x_hat, lambda: _D.x_hat(torch.zeros(2, 5), torch.zeros(2)), "z"
    ),
    BadArg(stratified_times, lambda: stratified_times(0, torch.Generator()), "n"),
    BadArg(
        x_from_eps,
        lambda: x_from_eps(torch.zeros(2, 2), torch.zeros(2, 3), torch.zeros(2)),
        "eps",
    ),
    BadArg(
        decoder_log_probs,
        lambda: decoder_log_probs(torch.zeros(2, 2), torch.zeros(2), 1),
        "levels",
    ),
    BadArg(prior_kl, lambda: prior_kl(torch.zeros(2, 2), 0.0), "logsnr"),
    BadArg(
        diffusion_loss,
        lambda: diffusion_loss(
            _M, torch.zeros(3, 2), SCHEDULE, torch.zeros(2), torch.zeros(3, 2)
        ),
        "t",
    ),
    BadArg(
        discrete_diffusion_loss,
        lambda: discrete_diffusion_loss(
            _M, torch.zeros(2, 2), SCHEDULE, 4, torch.tensor([0, 1]), torch.zeros(2, 2)
        ),
        "i",
    ),
    BadArg(
        elbo_terms,
        lambda: elbo_terms(_D, torch.full((2, 4), 5.0), SCHEDULE, 3, torch.Generator()),
        "x",
    ),
    BadArg(score, lambda: score(_M, torch.zeros(2, 2), torch.zeros(3)), "logsnr"),
    BadArg(
        tweedie,
        lambda: tweedie(torch.zeros(2, 2), torch.zeros(2, 3), torch.zeros(2)),
        "score_z",
    ),
    BadArg(
        ancestral_sample,
        lambda: ancestral_sample(_M, 2, 2, SCHEDULE, 0, torch.Generator()),
        "steps",
    ),
    BadArg(pf_ode_velocity, lambda: pf_ode_velocity(_M, "linear"), "schedule"),
    BadArg(
        pf_ode_sample,
        lambda: pf_ode_sample(_M, 2, 2, SCHEDULE, 0, torch.Generator()),
        "steps",
    ),
    BadArg(
        pf_ode_log_prob,
        lambda: pf_ode_log_prob(_M, SCHEDULE, torch.zeros(2, 2), 0),
        "steps",
    ),
    BadArg(
        train_denoiser,
        lambda: train_denoiser(_M, torch.zeros(4, 2), "linear", TrainConfig(1, 2)),
        "schedule",
    ),
    BadArg(
        chapter.DiffusionConfig,
        lambda: chapter.DiffusionConfig(datasets=("nope",)),
        "datasets",
    ),
    BadArg(
        chapter.make_test_set,
        lambda: chapter.make_test_set(chapter.CONFIG, "rings"),
        "dataset",
    ),
    BadArg(
        chapter.build_denoiser_2d, lambda: chapter.build_denoiser_2d("config"), "config"
    ),
    BadArg(
        chapter.train_2d, lambda: chapter.train_2d(chapter.CONFIG, "rings"), "dataset"
    ),
    BadArg(chapter.gap_2d, lambda: chapter.gap_2d(chapter.CONFIG, _M, "test"), "test"),
    BadArg(
        chapter.mixture_marginal,
        lambda: chapter.mixture_marginal("moons", 0.0),
        "density",
    ),
    BadArg(
        chapter.score_error,
        lambda: chapter.score_error(_M, "moons", 0.0, 10, 0),
        "density",
    ),
    BadArg(
        chapter.build_digits_denoiser,
        lambda: chapter.build_digits_denoiser(chapter.CONFIG, torch.zeros(3)),
        "train",
    ),
    BadArg(
        chapter.train_digits,
        lambda: chapter.train_digits(chapter.CONFIG, "split"),
        "split",
    ),
    BadArg(
        chapter.digits_bound,
        lambda: chapter.digits_bound(chapter.CONFIG, _D, torch.zeros(2, 64), samples=0),
        "samples",
    ),
    BadArg(
        chapter.sample_digits,
        lambda: chapter.sample_digits(chapter.CONFIG, _D, 0, 4, 0),
        "n",
    ),
    BadArg(
        chapter.sampling_seconds,
        lambda: chapter.sampling_seconds(chapter.CONFIG, _D, 0, 4, 0),
        "n",
    ),
    BadArg(
        chapter.frechet_vs_steps,
        lambda: chapter.frechet_vs_steps(chapter.CONFIG, _D, _M, "split"),
        "split",
    ),
]
