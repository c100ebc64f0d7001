"""Mathematical checks of tutorial_lib.vae and of the VAE chapters' recipes, each
against an independent reference: closed forms of the linear-Gaussian model,
torch.distributions, Monte Carlo averages and scikit-learn's PCA."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from bad_arguments import BadArg
from torch import nn
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence

from tutorial_lib.chapters import elbo as elbo_chapter
from tutorial_lib.chapters import linear_vae_ppca, vae_digits
from tutorial_lib.data import LinearGaussian
from tutorial_lib.train import TrainConfig
from tutorial_lib.vae import (
    VAE,
    DiscretizedLogistic,
    ElboTerms,
    LinearVAE,
    VAEConfig,
    build_vae,
    elbo,
    iwae_bound,
    iwae_log_likelihood,
    kl_per_dimension,
    kl_standard_normal,
    ppca_fit,
    ppca_max_log_likelihood,
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
    """A linear-Gaussian model with a (deliberately inexact) diagonal Gaussian encoder,
    exposing the ``posterior / likelihood / prior`` interface that ``elbo`` and
    ``iwae_*`` use."""

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


def _exact_elbo(linear_model: LinearGaussian, vae: LinearAsVAE, x):
    q = vae.posterior(x)
    cov = torch.diag_embed(q.variance)
    return linear_model.elbo(x, MultivariateNormal(q.mean, covariance_matrix=cov))


def test_kl_closed_form_equals_torch_distributions_and_monte_carlo():
    mu = torch.randn(3, 5, dtype=torch.float64)
    log_var = torch.randn(3, 5, dtype=torch.float64)
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
    # with the exact posterior, log p(x, z) - log q(z|x) = log p(x) for every z
    z = exact.sample((7,))
    weights = linear_model.log_joint(x, z) - exact.log_prob(z)
    torch.testing.assert_close(weights, log_p.expand(7, -1), rtol=0, atol=1e-9)
    for _ in range(5):
        A = torch.randn(50, 2, 2, dtype=torch.float64)
        diag = torch.diag_embed(A.diagonal(dim1=-2, dim2=-1).exp())
        L = torch.tril(A, -1) + diag  # a valid Cholesky factor
        q = MultivariateNormal(torch.randn(50, 2, dtype=torch.float64), scale_tril=L)
        gap = log_p - linear_model.elbo(x, q)
        assert torch.all(gap > 0)
        torch.testing.assert_close(gap, kl_divergence(q, exact), rtol=1e-9, atol=1e-9)


def test_monte_carlo_elbo_matches_exact_elbo(linear_model):
    x = linear_model.marginal().sample((20,))
    vae = LinearAsVAE(linear_model)
    exact = _exact_elbo(linear_model, vae, x)
    mc = elbo(vae, x, n_samples=100_000).elbo
    # standard error of the Monte Carlo mean, from an independent draw of the same size
    q = vae.posterior(x)
    se = vae.likelihood(q.sample((100_000,))).log_prob(x).std(0) / math.sqrt(100_000)
    assert torch.all((mc - exact).abs() < 5 * se), ((mc - exact).abs(), se)


def test_elbo_reconstruction_is_log_likelihood_at_the_reparameterised_draw():
    # z = mu + sigma * eps with eps from the global stream, written out by hand
    vae = VAE(VAEConfig(data_dim=3, latent_dim=2, hidden=8))
    x = torch.randn(6, 3)
    torch.manual_seed(4)
    terms = elbo(vae, x, beta=0.5)
    h = vae.encoder(x)
    mu, log_var = h[:, :2], h[:, 2:]
    torch.manual_seed(4)
    z = mu + torch.exp(0.5 * log_var) * torch.randn(6, 2)
    by_hand = Normal(vae.decoder(z), vae.log_scale.exp()).log_prob(x).sum(-1)
    torch.testing.assert_close(terms.reconstruction, by_hand, rtol=1e-5, atol=1e-5)
    kl = kl_standard_normal(mu, log_var)
    torch.testing.assert_close(terms.kl, kl, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(terms.elbo, by_hand - 0.5 * kl, rtol=1e-5, atol=1e-5)
    # kl_per_dimension splits the same KL over the latent dimensions
    total = kl_per_dimension(vae, x).sum()
    torch.testing.assert_close(total, kl.mean(), rtol=1e-5, atol=1e-5)


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


def test_iwae_bound_with_k_1_is_the_elbo(linear_model):
    vae = LinearAsVAE(linear_model)
    x = linear_model.marginal().sample((30,))
    # the same reparameterised draw: log p(x|z) + log p(z) - log q(z|x) at that z, where
    # the ELBO's reconstruction term is log p(x|z) at the same z
    torch.manual_seed(7)
    bound = iwae_bound(vae, x, 1)
    torch.manual_seed(7)
    terms = elbo(vae, x)
    q = vae.posterior(x)
    torch.manual_seed(7)
    z = q.rsample((1,))[0]  # (30, 2)
    log_ratio = vae.prior().log_prob(z) - q.log_prob(z)
    expected = terms.reconstruction + log_ratio
    torch.testing.assert_close(bound, expected, rtol=0, atol=1e-10)
    # and its average over draws is the exact ELBO (KL in closed form), within 5 s.e.
    S = 20_000
    draws = iwae_bound(vae, x.repeat(S, 1), 1).view(S, -1)  # (S, 30), independent draws
    se = draws.std(0) / math.sqrt(S)
    gap = (draws.mean(0) - _exact_elbo(linear_model, vae, x)).abs()
    assert torch.all(gap < 5 * se), (gap, se)
    # iwae_bound (reparameterised) and iwae_log_likelihood estimate the same bound
    S, k = 2000, 20
    ours = iwae_bound(vae, x.repeat(S, 1), k).view(S, -1)
    other = iwae_log_likelihood(vae, x.repeat(S, 1), k, batch_size=6000).view(S, -1)
    se = (ours.var(0) / S + other.var(0) / S).sqrt()
    assert torch.all((ours.mean(0) - other.mean(0)).abs() < 5 * se)


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
    expected = (probs * levels).sum(0)
    torch.testing.assert_close(vae.decode(z), expected, rtol=1e-4, atol=1e-4)


def test_discretized_logistic_matches_its_cdf():
    loc, log_scale = torch.tensor([3.2, 15.9, 0.1]), torch.tensor([0.0, -1.0, 0.5])
    d = DiscretizedLogistic(loc, log_scale, 17)
    cdf = lambda v: torch.sigmoid((v - loc) / log_scale.exp())  # noqa: E731
    five = d.log_prob(torch.tensor([5.0, 5.0, 5.0])).exp()
    torch.testing.assert_close(five, cdf(5.5) - cdf(4.5))
    torch.testing.assert_close(d.log_prob(torch.zeros(3)).exp(), cdf(0.5))
    torch.testing.assert_close(d.log_prob(torch.full((3,), 16.0)).exp(), 1 - cdf(15.5))


def test_ppca_closed_form_matches_direct_gaussian_density_and_is_a_maximum():
    x, _ = linear_vae_ppca.make_data()
    fit = ppca_fit(x, 2)
    cov = fit.W @ fit.W.T + fit.sigma2 * torch.eye(5, dtype=x.dtype)
    direct = MultivariateNormal(fit.b, covariance_matrix=cov).log_prob(x)
    assert abs(float(direct.mean()) - ppca_max_log_likelihood(x, 2)) < 1e-10
    # stationary point: the gradient of the average log-likelihood vanishes
    W, b, s = (t.clone().requires_grad_() for t in (fit.W, fit.b, fit.sigma2))
    LinearGaussian(W, b, s).log_prob(x).mean().backward()
    for g in (W.grad, b.grad, s.grad):
        assert g.abs().max() < 1e-8
    # and a maximum: perturbing the parameters lowers it
    for _ in range(5):
        W1 = fit.W + 0.05 * torch.randn_like(fit.W)
        other = LinearGaussian(W1, fit.b, fit.sigma2 * 1.1)
        assert other.log_prob(x).mean() < direct.mean()


@pytest.mark.parametrize("q", [1, 2, 3])
def test_ppca_covariance_matches_scikit_learn_pca(q):
    from sklearn.decomposition import PCA

    x, _ = linear_vae_ppca.make_data()
    fit = ppca_fit(x, q)
    ours = fit.W @ fit.W.T + fit.sigma2 * torch.eye(x.shape[1], dtype=x.dtype)
    reference = torch.from_numpy(PCA(n_components=q).fit(x.numpy()).get_covariance())
    # scikit-learn's variances divide by N - 1, the maximum-likelihood ones by N. Both
    # are float64 eigen-decompositions of a 5 x 5 matrix with entries of order 1, so
    # they agree to round-off: 1e-10 absolute.
    n = x.shape[0]
    torch.testing.assert_close(ours * n / (n - 1), reference, rtol=0, atol=1e-10)


def test_linear_vae_reaches_ppca_likelihood_and_subspace():
    config = linear_vae_ppca.CONFIG
    x, _ = linear_vae_ppca.make_data(config)
    vae, history = linear_vae_ppca.train_linear_vae(x, config)
    target = ppca_max_log_likelihood(x, config.data.latent_dim)
    with torch.no_grad():
        final = float(vae.elbo(x).mean())
    assert abs(final - target) < config.tolerance
    assert history.loss[-1] == pytest.approx(-final, abs=1e-3)  # the last step's loss
    U = ppca_fit(x, config.data.latent_dim).W
    assert linear_vae_ppca.principal_angles(vae.W.detach(), U).max() < 1e-2


def test_principal_angles_of_known_subspaces():
    # span(e1, e2) against span(e1, cos t e2 + sin t e3), each given by a non-orthogonal
    # basis: the angles are 0 and t
    t, f64 = 0.3, torch.float64
    mix = torch.tensor([[1.0, 2.0], [0.0, 1.0]], dtype=f64)
    A = torch.eye(4, dtype=f64)[:, :2] @ mix
    B = torch.tensor(
        [[2.0, 0.0], [0.0, math.cos(t)], [0.0, math.sin(t)], [0.0, 0.0]], dtype=f64
    ) @ torch.tensor([[1.0, 1.0], [0.0, 3.0]], dtype=f64)
    angles = linear_vae_ppca.principal_angles(A, B)
    expected = torch.tensor([0.0, t], dtype=f64)
    torch.testing.assert_close(angles.sort().values, expected, rtol=0, atol=1e-7)


def test_elbo_chapter_data_has_the_configured_moments_and_entropy():
    config = elbo_chapter.CONFIG
    dist = elbo_chapter.data_distribution(config)
    entropy = float(dist.entropy())
    assert elbo_chapter.data_entropy(config) == pytest.approx(entropy, abs=1e-5)
    x = elbo_chapter.sample_data(200_000, torch.Generator().manual_seed(0), config)
    torch.testing.assert_close(x.mean(0), dist.mean, rtol=0, atol=0.01)
    cov = dist.covariance_matrix
    torch.testing.assert_close(torch.cov(x.T), cov, rtol=0, atol=0.01)


def test_digits_recipes_train_and_evaluate_a_shrunk_run():
    from tutorial_lib.data import load_digits_split

    d = load_digits_split()
    train = dataclasses.replace(
        vae_digits.CONFIG.train, steps=4, val_every=2, progress=False
    )
    config = dataclasses.replace(vae_digits.CONFIG, train=train, k=3, elbo_samples=2)
    model, history = vae_digits.train_digits_vae(d.train, d.val[:20], config, beta=2.0)
    assert [s for s, _ in history.val] == [2, 4] and len(history.loss) == 4
    result = vae_digits.evaluate_digits_vae(model, d.val[:20], d.test[:30], config)
    # the reported NLL is the average of the per-image estimates, and the -ELBO splits
    # into its two terms
    assert result.per_image.shape == (30,)
    assert result.nll == pytest.approx(float(-result.per_image.mean()))
    assert result.nelbo == pytest.approx(result.reconstruction + result.kl, rel=1e-5)
    # the evaluation is reproducible: it seeds the global stream itself
    again = vae_digits.evaluate_digits_vae(model, d.val[:20], d.test[:30], config)
    assert again.nll == result.nll and again.nelbo == result.nelbo


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
    digits = [r for r in records if r["task"] == "digits"]
    assert all(r["value"] < 64 * math.log(17) for r in digits)


# ---------------------------------------------------------------------------
# Bad arguments (run by tests/test_bad_arguments.py; format in tests/bad_arguments.py)


def _vae() -> VAE:
    return VAE(VAEConfig(data_dim=2, latent_dim=1, hidden=4, layers=1))


def _logistic() -> DiscretizedLogistic:
    return DiscretizedLogistic(torch.zeros(3), torch.zeros(3), 17)


Z = torch.zeros
_PIX = Z(3, 64)
ec, lc, vd = elbo_chapter, linear_vae_ppca, vae_digits
_NOT_PD = ((1.0, 2.0), (2.0, 1.0))

BAD_ARGUMENTS = [
    BadArg(VAEConfig, lambda: VAEConfig(2, 1, likelihood="bernoulli"), "likelihood"),
    BadArg(VAEConfig, lambda: VAEConfig(0, 1), "data_dim"),
    BadArg(VAE, lambda: VAE("not a config"), "config"),
    BadArg(build_vae, lambda: build_vae({"data_dim": 2}), "config"),
    BadArg(DiscretizedLogistic, lambda: DiscretizedLogistic(Z(3), Z(3), 1), "levels"),
    BadArg(DiscretizedLogistic, lambda: DiscretizedLogistic(Z(3), Z(2), 9), "log_scal"),
    BadArg(DiscretizedLogistic.log_prob, lambda: _logistic().log_prob([1.0]), "value"),
    BadArg(VAE.posterior, lambda: _vae().posterior(Z(4, 3)), "x"),
    BadArg(VAE.likelihood, lambda: _vae().likelihood(Z(4, 2)), "z"),
    BadArg(VAE.sample, lambda: _vae().sample(0), "n"),
    BadArg(VAE.decode, lambda: _vae().decode(Z(4, 3)), "z"),
    BadArg(ElboTerms, lambda: ElboTerms(Z(3), Z(3), Z(2)), "kl"),
    BadArg(elbo, lambda: elbo(_vae(), Z(1, 2), n_samples=0), "n_samples"),
    BadArg(elbo, lambda: elbo(_vae(), Z(1, 2), beta=-1.0), "beta"),
    BadArg(elbo, lambda: elbo(_vae(), Z(2)), "x"),
    BadArg(elbo, lambda: elbo(object(), Z(1, 2)), "model"),
    BadArg(kl_standard_normal, lambda: kl_standard_normal(Z(2, 3), Z(3)), "log_var"),
    BadArg(kl_per_dimension, lambda: kl_per_dimension(_vae(), Z(2)), "x"),
    BadArg(iwae_bound, lambda: iwae_bound(_vae(), Z(1, 2), 0), "k"),
    BadArg(iwae_log_likelihood, lambda: iwae_log_likelihood(_vae(), Z(1, 2), 0), "k"),
    BadArg(iwae_log_likelihood,
           lambda: iwae_log_likelihood(_vae(), Z(1, 2), 5, batch_size=0), "batch_size"),
    BadArg(iwae_log_likelihood,
           lambda: iwae_log_likelihood(_vae(), Z(1, 2), 5, chunk=0), "chunk"),
    BadArg(LinearVAE, lambda: LinearVAE(5, 5), "latent_dim"),
    BadArg(LinearVAE, lambda: LinearVAE(1, 1), "data_dim"),
    BadArg(LinearVAE.posterior, lambda: LinearVAE(5, 2).posterior(Z(3, 4)), "x"),
    BadArg(LinearVAE.elbo, lambda: LinearVAE(5, 2).elbo(Z(5)), "x"),
    BadArg(ppca_fit, lambda: ppca_fit(Z(5, 3), 3), "latent_dim"),
    BadArg(ppca_fit, lambda: ppca_fit(Z(5), 1), "x"),
    BadArg(ppca_max_log_likelihood, lambda: ppca_max_log_likelihood(Z(5, 3), 0),
           "latent_dim"),
    # the ELBO chapter
    BadArg(ec.ElboConfig, lambda: ec.ElboConfig(cov=_NOT_PD), "cov"),
    BadArg(ec.ElboConfig, lambda: ec.ElboConfig(test_size=0), "test_size"),
    BadArg(ec.ElboConfig, lambda: ec.ElboConfig(model=VAEConfig(3, 2)), "model"),
    BadArg(ec.data_distribution, lambda: ec.data_distribution("x"), "config"),
    BadArg(ec.data_entropy, lambda: ec.data_entropy(None), "config"),
    BadArg(ec.sample_data, lambda: ec.sample_data(0, torch.Generator()), "n"),
    BadArg(ec.test_data, lambda: ec.test_data({}), "config"),
    BadArg(ec.negative_elbo, lambda: ec.negative_elbo(object(), Z(2, 2)), "model"),
    BadArg(ec.train_vae_2d, lambda: ec.train_vae_2d("x"), "config"),
    BadArg(ec.evaluate_vae_2d, lambda: ec.evaluate_vae_2d(nn.Linear(2, 2)), "model"),
    BadArg(ec.Gaussian2DEvaluation,
           lambda: ec.Gaussian2DEvaluation(*[1.0] * 6, math.nan), "entropy"),
    # the linear-VAE chapter
    BadArg(lc.LinearVAEConfig,
           lambda: lc.LinearVAEConfig(train=TrainConfig(10, batch_size=50)), "train"),
    BadArg(lc.LinearVAEConfig, lambda: lc.LinearVAEConfig(tolerance=0.0), "tolerance"),
    BadArg(lc.make_data, lambda: lc.make_data("x"), "config"),
    BadArg(lc.train_linear_vae, lambda: lc.train_linear_vae(Z(10, 5)), "x"),
    BadArg(lc.principal_angles, lambda: lc.principal_angles(Z(4, 2), Z(4, 3)), "B"),
    # the digits-VAE chapter
    BadArg(vd.VAEDigitsConfig, lambda: vd.VAEDigitsConfig(k_collapse=0), "k_collapse"),
    BadArg(vd.VAEDigitsConfig, lambda: vd.VAEDigitsConfig(beta=0.0), "beta"),
    BadArg(vd.VAEDigitsConfig, lambda: vd.VAEDigitsConfig(model=VAEConfig(6, 4)),
           "model"),
    BadArg(vd.negative_elbo, lambda: vd.negative_elbo(_vae(), Z(2, 2), -1.0), "beta"),
    BadArg(vd.train_digits_vae, lambda: vd.train_digits_vae(Z(3, 63), _PIX), "x_train"),
    BadArg(vd.train_digits_vae, lambda: vd.train_digits_vae(_PIX, _PIX, beta=0),
           "beta"),
    BadArg(vd.train_digits_vae, lambda: vd.train_digits_vae(_PIX, _PIX, seed=-1),
           "seed"),
    BadArg(vd.evaluate_digits_vae,
           lambda: vd.evaluate_digits_vae(nn.Linear(2, 2), _PIX, _PIX), "model"),
    BadArg(vd.evaluate_digits_vae,
           lambda: vd.evaluate_digits_vae(build_vae(vd.CONFIG.model), _PIX, Z(2)),
           "x_test"),
    BadArg(vd.DigitsEvaluation,
           lambda: vd.DigitsEvaluation(*[1.0] * 6, 0, Z(3)), "k"),
]
