"""Tests of the classical baselines: Gaussian mixture by EM and Gaussian KDE."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, MultivariateNormal, Normal

from tutorial_lib.chapters.foundations import CONFIG
from tutorial_lib.baselines import (
    GaussianKDE,
    GMMConfig,
    KDEConfig,
    fit_gmm,
    scott_bandwidth,
    select_bandwidth,
    select_gmm,
)


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def _two_component_mixture() -> MixtureSameFamily:
    means = torch.tensor([[-2.0, 0.0], [2.0, 1.0]], dtype=torch.float64)
    covs = torch.tensor([[[0.5, 0.2], [0.2, 0.3]], [[0.4, 0.0], [0.0, 0.8]]], dtype=torch.float64)
    return MixtureSameFamily(Categorical(probs=torch.tensor([0.3, 0.7], dtype=torch.float64)), MultivariateNormal(means, covs))


def test_em_recovers_a_known_mixture(generator: torch.Generator) -> None:
    truth = _two_component_mixture()
    torch.manual_seed(0)
    x = truth.sample((20_000,))
    fitted = fit_gmm(x, 2)
    order = fitted.component_distribution.loc[:, 0].argsort()  # sort components by x-coordinate
    # standard errors are about sigma / sqrt(n_k) ~ 0.01 for the means and weights
    torch.testing.assert_close(fitted.mixture_distribution.probs[order], truth.mixture_distribution.probs, atol=0.02, rtol=0)
    torch.testing.assert_close(fitted.component_distribution.loc[order], truth.component_distribution.loc, atol=0.04, rtol=0)
    torch.testing.assert_close(
        fitted.component_distribution.covariance_matrix[order], truth.component_distribution.covariance_matrix, atol=0.05, rtol=0
    )
    # the fitted model's test NLL is within Monte Carlo error of the true one
    x_test = truth.sample((20_000,))
    gap = (truth.log_prob(x_test) - fitted.log_prob(x_test)).mean().item()
    assert abs(gap) < 0.01


def test_gmm_log_prob_matches_sklearn() -> None:
    from sklearn.mixture import GaussianMixture

    torch.manual_seed(1)
    x = _two_component_mixture().sample((2_000,))
    ours = fit_gmm(x, 3, GMMConfig(seed=4))
    ref = GaussianMixture(3, covariance_type="full", random_state=4, reg_covar=1e-6, tol=1e-4, max_iter=300).fit(x.numpy())
    np.testing.assert_allclose(ours.log_prob(x).numpy(), ref.score_samples(x.numpy()), atol=1e-8)
    assert ours.log_prob(x).dtype == torch.float64


def test_select_gmm_prefers_the_true_number_of_components() -> None:
    torch.manual_seed(2)
    truth = _two_component_mixture()
    train, val = truth.sample((3_000,)), truth.sample((3_000,))
    model, sel = select_gmm(train, val, GMMConfig(components=(1, 2, 8)))
    assert set(sel.val_nll) == {1, 2, 8}
    assert sel.best == min(sel.val_nll, key=sel.val_nll.get)
    assert sel.best == 2  # one component underfits by far; eight overfit slightly
    assert sel.val_nll[1] > sel.val_nll[2] + 0.1
    assert model.mixture_distribution.probs.shape == (2,)


def test_kde_matches_explicit_mixture_and_sklearn(generator: torch.Generator) -> None:
    from sklearn.neighbors import KernelDensity

    data = torch.randn((300, 2), generator=generator, dtype=torch.float64)
    query = 2 * torch.randn((500, 2), generator=generator, dtype=torch.float64)
    h = 0.37
    kde = GaussianKDE(data, h)
    # the KDE is an equal-weight mixture of isotropic Gaussians centred on the data
    mixture = MixtureSameFamily(
        Categorical(logits=torch.zeros(300, dtype=torch.float64)), Independent(Normal(data, torch.full_like(data, h)), 1)
    )
    torch.testing.assert_close(kde.log_prob(query, batch_size=77), mixture.log_prob(query), atol=1e-10, rtol=0)
    ref = KernelDensity(bandwidth=h, kernel="gaussian").fit(data.numpy()).score_samples(query.numpy())
    np.testing.assert_allclose(kde.log_prob(query).numpy(), ref, atol=1e-8)


def test_kde_integrates_to_one_and_tiny_bandwidth_is_exact_at_data(generator: torch.Generator) -> None:
    data = torch.randn((50, 2), generator=generator, dtype=torch.float64)
    kde = GaussianKDE(data, 0.3)
    t = torch.linspace(-6, 6, 401, dtype=torch.float64)
    gx, gy = torch.meshgrid(t, t, indexing="xy")
    grid = torch.stack([gx.flatten(), gy.flatten()], 1)
    mass = kde.log_prob(grid).exp().sum().item() * (t[1] - t[0]).item() ** 2
    assert abs(mass - 1) < 1e-3
    # float32 with a tiny bandwidth: a training point sees its own kernel, 1 / (n 2 pi h^2)
    tiny = GaussianKDE(data.float(), 1e-3)
    expected = -math.log(50 * 2 * math.pi * 1e-6)
    torch.testing.assert_close(tiny.log_prob(data.float()), torch.full((50,), expected), atol=1e-4, rtol=0)


def test_kde_samples_have_the_mixture_moments(generator: torch.Generator) -> None:
    data = torch.randn((200, 2), generator=generator, dtype=torch.float64) * torch.tensor([1.0, 2.0], dtype=torch.float64)
    kde = GaussianKDE(data, 0.5)
    x = kde.sample(200_000, generator)
    # mean = data mean; covariance = (biased) data covariance + h^2 I
    torch.testing.assert_close(x.mean(0), data.mean(0), atol=0.02, rtol=0)
    expected_var = data.var(0, unbiased=False) + 0.25
    torch.testing.assert_close(x.var(0), expected_var, atol=0.0, rtol=0.02)


def test_bandwidth_selection_on_gaussian_data(generator: torch.Generator) -> None:
    train = torch.randn((2_000, 2), generator=generator)
    val = torch.randn((2_000, 2), generator=generator)
    config = KDEConfig(bandwidths=(0.02, 0.05, 0.1, 0.2, 0.3, 0.45, 0.7, 1.0, 2.0))
    kde, sel = select_bandwidth(train, val, config)
    assert sel.best == min(sel.val_nll, key=sel.val_nll.get) == kde.bandwidth
    # Scott's rule is near-optimal for Gaussian data: the choice is within a factor 2
    assert 0.5 < sel.best / scott_bandwidth(train) < 2
    # the validation NLL of the chosen KDE is above the true entropy log(2 pi e) (KL >= 0)
    assert sel.val_nll[sel.best] > math.log(2 * math.pi * math.e) - 0.05
    # and far better than both extremes of the grid
    assert sel.val_nll[0.02] > sel.val_nll[sel.best] + 0.3 and sel.val_nll[2.0] > sel.val_nll[sel.best] + 0.3


def test_bad_inputs_raise_clear_errors(generator: torch.Generator) -> None:
    x = torch.randn((10, 2), generator=generator)
    with pytest.raises(ValueError, match="bandwidth"):
        GaussianKDE(x, 0.0)
    with pytest.raises(ValueError, match="data"):
        GaussianKDE(torch.randn(10), 0.1)
    with pytest.raises(ValueError, match="columns"):
        GaussianKDE(x, 0.1).log_prob(torch.randn((3, 3)))
    with pytest.raises(ValueError, match="n must"):
        GaussianKDE(x, 0.1).sample(0)
    with pytest.raises(ValueError, match="n_components"):
        fit_gmm(x, 0)
    with pytest.raises(ValueError, match="n_components"):
        fit_gmm(x, 11)
    with pytest.raises(ValueError, match="bandwidths"):
        select_bandwidth(x, x, KDEConfig(bandwidths=(0.1, -1.0)))
    with pytest.raises(ValueError, match="components"):
        select_gmm(x, x, GMMConfig(components=()))


def test_chapter_configuration_is_consistent() -> None:
    c = CONFIG
    assert min(c.n_train, c.n_val, c.n_test) > 0
    assert max(c.gmm.components) < c.n_train
    assert sorted(c.kde.bandwidths) == list(c.kde.bandwidths) and c.kde.bandwidths[0] > 0
