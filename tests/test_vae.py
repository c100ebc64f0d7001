"""Mathematical checks of tutorial_lib.vae and tutorial_lib.linear_gaussian."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence

from tutorial_lib.chapters.linear_vae_ppca import LINEAR_DATA, LINEAR_VAE_LR, LINEAR_VAE_STEPS
from tutorial_lib.data import LinearGaussian, make_linear_gaussian_data
from tutorial_lib.vae import LinearVAE, ppca_fit, ppca_max_log_likelihood
from tutorial_lib.vae import (
    DiscretizedLogistic,
    VAE,
    VAEConfig,
    elbo,
    iwae_bound,
    iwae_log_likelihood,
    kl_per_dimension,
    kl_standard_normal,
)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # these small models run fastest on one thread
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def linear_model() -> LinearGaussian:
    g = torch.Generator().manual_seed(1)
    W = torch.randn(4, 2, generator=g, dtype=torch.float64)
    b = torch.randn(4, generator=g, dtype=torch.float64)
    return LinearGaussian(W, b, torch.tensor(0.25, dtype=torch.float64))


class LinearAsVAE(nn.Module):
    """A linear-Gaussian model with a (deliberately inexact) diagonal Gaussian encoder, exposing
    the ``posterior / likelihood / prior`` interface that ``elbo`` and ``iwae_*`` use."""

    def __init__(self, model: LinearGaussian, shrink: float = 0.7):
        super().__init__()
        self.m, self.shrink = model, shrink

    def posterior(self, x):
        exact = self.m.posterior(x)
        std = exact.covariance_matrix.diagonal(dim1=-2, dim2=-1).sqrt()
        return Independent(Normal(self.shrink * exact.mean, 1.5 * std), 1)

    def likelihood(self, z):
        return Independent(Normal(z @ self.m.W.T + self.m.b, self.m.sigma2.sqrt()), 1)

    def prior(self):
        z = torch.zeros(self.m.W.shape[1], dtype=self.m.W.dtype)
        return Independent(Normal(z, torch.ones_like(z)), 1)


def test_kl_closed_form_equals_torch_distributions_and_monte_carlo():
    mu, log_var = torch.randn(3, 5, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    closed = kl_standard_normal(mu, log_var)
    q = Independent(Normal(mu, (0.5 * log_var).exp()), 1)
    p = Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
    torch.testing.assert_close(closed, kl_divergence(q, p), rtol=1e-12, atol=1e-12)
    z = q.sample((200_000,))  # (S, 3, 5)
    terms = q.log_prob(z) - p.log_prob(z)
    mc, se = terms.mean(0), terms.std(0) / math.sqrt(z.shape[0])
    assert torch.all((mc - closed).abs() < 5 * se), (mc, closed, se)


def test_elbo_below_log_p_equal_at_exact_posterior_and_gap_is_kl(linear_model):
    x = linear_model.marginal().sample((50,))
    log_p = linear_model.log_prob(x)
    exact = linear_model.posterior(x)
    torch.testing.assert_close(linear_model.elbo(x, exact), log_p, rtol=0, atol=1e-9)
    # with the exact posterior, log p(x, z) - log q(z|x) = log p(x) for every z: zero variance
    z = exact.sample((7,))
    torch.testing.assert_close(linear_model.log_joint(x, z) - exact.log_prob(z), log_p.expand(7, -1), rtol=0, atol=1e-9)
    for _ in range(5):
        A = torch.randn(50, 2, 2, dtype=torch.float64)
        L = torch.tril(A, -1) + torch.diag_embed(A.diagonal(dim1=-2, dim2=-1).exp())  # valid Cholesky factor
        q = MultivariateNormal(torch.randn(50, 2, dtype=torch.float64), scale_tril=L)
        gap = log_p - linear_model.elbo(x, q)
        assert torch.all(gap > 0)
        torch.testing.assert_close(gap, kl_divergence(q, exact), rtol=1e-9, atol=1e-9)


def test_monte_carlo_elbo_matches_exact_elbo(linear_model):
    x = linear_model.marginal().sample((20,))
    vae = LinearAsVAE(linear_model)
    q = vae.posterior(x)
    exact = linear_model.elbo(x, MultivariateNormal(q.mean, covariance_matrix=torch.diag_embed(q.variance)))
    mc = elbo(vae, x, n_samples=100_000).elbo
    # standard error of the Monte Carlo mean, from an independent draw of the same size
    se = vae.likelihood(q.sample((100_000,))).log_prob(x).std(0) / math.sqrt(100_000)
    assert torch.all((mc - exact).abs() < 5 * se), ((mc - exact).abs(), se)


def test_iwae_increases_with_k_and_stays_below_log_p(linear_model):
    vae = LinearAsVAE(linear_model)
    x = linear_model.marginal().sample((400,))
    log_p = linear_model.log_prob(x).mean()
    means = []
    for k in (1, 10, 100, 1000):
        est = iwae_log_likelihood(vae, x, k, batch_size=400, chunk=1000)  # (N,)
        se = est.std() / math.sqrt(len(est))
        assert est.mean() <= log_p + 3 * se, (k, est.mean(), log_p)
        means.append(float(est.mean()))
    assert means == sorted(means) and means[-1] - means[0] > 0.05, means
    assert abs(means[-1] - float(log_p)) < 0.02, (means[-1], float(log_p))
    # k = 1 is the ELBO: their averages agree
    e = elbo(vae, x, n_samples=1000).elbo.mean()
    assert abs(float(e) - means[0]) < 0.1
    assert iwae_bound(vae, x[:5], 3).shape == (5,)


@pytest.mark.parametrize("likelihood", ["categorical", "logistic"])
def test_discrete_decoder_is_a_distribution_over_the_17_levels(likelihood):
    vae = VAE(VAEConfig(data_dim=6, latent_dim=3, hidden=16, likelihood=likelihood))
    z = 3 * torch.randn(5, 3)
    dist = vae.likelihood(z)
    levels = torch.arange(17.0).view(17, 1, 1).expand(17, 5, 6)
    probs = dist.base_dist.log_prob(levels).exp()  # (17, 5, 6)
    torch.testing.assert_close(probs.sum(0), torch.ones(5, 6), rtol=0, atol=1e-5)
    assert torch.all(probs >= 0)
    x = vae.decode(z, mean=False)
    assert torch.all((x >= 0) & (x <= 16) & (x == x.round()))
    # decode(mean=True) is the expectation of the pixel value
    torch.testing.assert_close(vae.decode(z), (probs * levels).sum(0), rtol=1e-4, atol=1e-4)


def test_discretized_logistic_matches_its_cdf():
    loc, log_scale = torch.tensor([3.2, 15.9, 0.1]), torch.tensor([0.0, -1.0, 0.5])
    d = DiscretizedLogistic(loc, log_scale, 17)
    cdf = lambda v: torch.sigmoid((v - loc) / log_scale.exp())  # noqa: E731
    torch.testing.assert_close(d.log_prob(torch.tensor([5.0, 5.0, 5.0])).exp(), cdf(5.5) - cdf(4.5))
    torch.testing.assert_close(d.log_prob(torch.zeros(3)).exp(), cdf(0.5))
    torch.testing.assert_close(d.log_prob(torch.full((3,), 16.0)).exp(), 1 - cdf(15.5))


def test_gaussian_decoder_elbo_terms_and_kl_per_dimension():
    vae = VAE(VAEConfig(data_dim=2, latent_dim=3, hidden=8))
    x = torch.randn(10, 2)
    t = elbo(vae, x)
    torch.testing.assert_close(t.elbo, t.reconstruction - t.kl)
    q = vae.posterior(x).base_dist
    torch.testing.assert_close(t.kl, kl_standard_normal(q.loc, 2 * q.scale.log()), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(kl_per_dimension(vae, x).sum(), t.kl.mean(), rtol=1e-5, atol=1e-5)
    assert vae.sample(4).shape == (4, 2)


def test_ppca_closed_form_matches_direct_gaussian_density_and_is_a_maximum():
    x, _ = make_linear_gaussian_data(LINEAR_DATA)
    fit = ppca_fit(x, 2)
    direct = MultivariateNormal(fit.b, covariance_matrix=fit.W @ fit.W.T + fit.sigma2 * torch.eye(5)).log_prob(x)
    assert abs(float(direct.mean()) - ppca_max_log_likelihood(x, 2)) < 1e-10
    # stationary point: the gradient of the average log-likelihood vanishes
    W, b, s = (t.clone().requires_grad_() for t in (fit.W, fit.b, fit.sigma2))
    LinearGaussian(W, b, s).log_prob(x).mean().backward()
    for g in (W.grad, b.grad, s.grad):
        assert g.abs().max() < 1e-8
    # and a maximum: perturbing the parameters lowers it
    for _ in range(5):
        other = LinearGaussian(fit.W + 0.05 * torch.randn_like(fit.W), fit.b, fit.sigma2 * 1.1)
        assert other.log_prob(x).mean() < direct.mean()


def test_linear_vae_reaches_ppca_likelihood_and_subspace():
    x, _ = make_linear_gaussian_data(LINEAR_DATA)
    vae = LinearVAE(LINEAR_DATA.data_dim, LINEAR_DATA.latent_dim)
    opt = torch.optim.Adam(vae.parameters(), lr=LINEAR_VAE_LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, LINEAR_VAE_STEPS)
    for _ in range(LINEAR_VAE_STEPS):
        loss = -vae.elbo(x).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    target = ppca_max_log_likelihood(x, LINEAR_DATA.latent_dim)
    assert abs(float(vae.elbo(x).mean().detach()) - target) < 0.01
    W, U = vae.W.detach(), ppca_fit(x, LINEAR_DATA.latent_dim).W
    proj = lambda A: A @ torch.linalg.pinv(A)  # noqa: E731
    assert (proj(W) - proj(U)).norm() < 1e-2


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match="likelihood"):
        VAEConfig(data_dim=2, latent_dim=1, likelihood="bernoulli")
    vae = VAE(VAEConfig(data_dim=2, latent_dim=1))
    with pytest.raises(ValueError, match="k"):
        iwae_log_likelihood(vae, torch.zeros(1, 2), 0)
    with pytest.raises(ValueError, match="n_samples"):
        elbo(vae, torch.zeros(1, 2), n_samples=0)
    with pytest.raises(ValueError, match="latent_dim"):
        ppca_fit(torch.zeros(5, 3), 3)


def test_benchmark_suite_quick_runs_and_follows_the_contract():
    import importlib
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    module = importlib.import_module("benchmarks.vae")
    records = module.SUITES["vae"](quick=True)
    keys = {"suite", "task", "model", "metric", "value", "lower_is_better", "reference",
            "reference_value", "seconds", "seeds"}
    assert {r["task"] for r in records} == {"digits", "linear-gaussian", "gaussian-2d"}
    for r in records:
        assert set(r) == keys and r["suite"] == "vae" and math.isfinite(r["value"])
    # even a short run must beat the uniform distribution over 17 levels on digits
    digits = {r["metric"]: r for r in records if r["task"] == "digits"}
    assert all(r["value"] < 64 * math.log(17) for r in digits.values())
