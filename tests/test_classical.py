"""Tests of the classical baselines (Gaussian mixture by EM, Gaussian KDE, independent
pixels) against independent references (scikit-learn, explicit mixtures, an explicit
product of categoricals), of the recipes of the foundations and "why generative"
chapters, and the bad-argument rows of ``tutorial_lib.baselines`` and of those chapters.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from bad_arguments import BadArg
from torch.distributions import (
    Categorical,
    Independent,
    MixtureSameFamily,
    MultivariateNormal,
    Normal,
)

from tutorial_lib.baselines import (
    GaussianKDE,
    GMMConfig,
    IndependentPixels,
    KDEConfig,
    Selection,
    fit_gmm,
    scott_bandwidth,
    select_bandwidth,
    select_gmm,
    uniform_nll,
)
from tutorial_lib.chapters import foundations, why_generative
from tutorial_lib.data import get_density, load_digits_split
from tutorial_lib.train import History


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def _two_component_mixture() -> MixtureSameFamily:
    means = torch.tensor([[-2.0, 0.0], [2.0, 1.0]], dtype=torch.float64)
    covs = torch.tensor(
        [[[0.5, 0.2], [0.2, 0.3]], [[0.4, 0.0], [0.0, 0.8]]], dtype=torch.float64
    )
    return MixtureSameFamily(
        Categorical(probs=torch.tensor([0.3, 0.7], dtype=torch.float64)),
        MultivariateNormal(means, covs),
    )


def test_em_recovers_a_known_mixture(generator: torch.Generator) -> None:
    truth = _two_component_mixture()
    torch.manual_seed(0)
    x = truth.sample((20_000,))
    fitted = fit_gmm(x, 2)
    order = fitted.component_distribution.loc[
        :, 0
    ].argsort()  # sort components by x-coordinate
    # standard errors are about sigma / sqrt(n_k) ~ 0.01 for the means and weights
    torch.testing.assert_close(
        fitted.mixture_distribution.probs[order],
        truth.mixture_distribution.probs,
        atol=0.02,
        rtol=0,
    )
    torch.testing.assert_close(
        fitted.component_distribution.loc[order],
        truth.component_distribution.loc,
        atol=0.04,
        rtol=0,
    )
    torch.testing.assert_close(
        fitted.component_distribution.covariance_matrix[order],
        truth.component_distribution.covariance_matrix,
        atol=0.05,
        rtol=0,
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
    ref = GaussianMixture(
        3,
        covariance_type="full",
        random_state=4,
        reg_covar=1e-6,
        tol=1e-4,
        max_iter=300,
    ).fit(x.numpy())
    np.testing.assert_allclose(
        ours.log_prob(x).numpy(), ref.score_samples(x.numpy()), atol=1e-8
    )
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
        Categorical(logits=torch.zeros(300, dtype=torch.float64)),
        Independent(Normal(data, torch.full_like(data, h)), 1),
    )
    torch.testing.assert_close(
        kde.log_prob(query, batch_size=77), mixture.log_prob(query), atol=1e-10, rtol=0
    )
    ref = (
        KernelDensity(bandwidth=h, kernel="gaussian")
        .fit(data.numpy())
        .score_samples(query.numpy())
    )
    np.testing.assert_allclose(kde.log_prob(query).numpy(), ref, atol=1e-8)


def test_kde_integrates_to_one_and_tiny_bandwidth_is_exact_at_data(
    generator: torch.Generator,
) -> None:
    data = torch.randn((50, 2), generator=generator, dtype=torch.float64)
    kde = GaussianKDE(data, 0.3)
    t = torch.linspace(-6, 6, 401, dtype=torch.float64)
    gx, gy = torch.meshgrid(t, t, indexing="xy")
    grid = torch.stack([gx.flatten(), gy.flatten()], 1)
    mass = kde.log_prob(grid).exp().sum().item() * (t[1] - t[0]).item() ** 2
    assert abs(mass - 1) < 1e-3
    # float32 with a tiny bandwidth: a training point sees its own kernel,
    # 1 / (n 2 pi h^2)
    tiny = GaussianKDE(data.float(), 1e-3)
    expected = -math.log(50 * 2 * math.pi * 1e-6)
    torch.testing.assert_close(
        tiny.log_prob(data.float()), torch.full((50,), expected), atol=1e-4, rtol=0
    )


def test_kde_samples_have_the_mixture_moments(generator: torch.Generator) -> None:
    data = torch.randn(
        (200, 2), generator=generator, dtype=torch.float64
    ) * torch.tensor([1.0, 2.0], dtype=torch.float64)
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
    # the validation NLL of the chosen KDE is above the true entropy log(2 pi e)
    # (KL >= 0)
    assert sel.val_nll[sel.best] > math.log(2 * math.pi * math.e) - 0.05
    # and far better than both extremes of the grid
    assert (
        sel.val_nll[0.02] > sel.val_nll[sel.best] + 0.3
        and sel.val_nll[2.0] > sel.val_nll[sel.best] + 0.3
    )


def test_independent_pixels_is_an_explicit_product_of_categoricals() -> None:
    split = load_digits_split()
    model = IndependentPixels(split.train)  # add-one smoothing over 17 levels
    train = split.train.long().numpy()
    n, levels = train.shape[0], 17
    expected = np.zeros(len(split.test))
    for j in range(train.shape[1]):  # pixel by pixel, counting by hand
        counts = np.array([(train[:, j] == v).sum() for v in range(levels)])
        probs = (counts + 1.0) / (n + levels)
        expected += np.log(probs[split.test[:, j].long().numpy()])
    np.testing.assert_allclose(model.log_prob(split.test).numpy(), expected, atol=1e-9)
    assert uniform_nll(64, 17) == pytest.approx(64 * math.log(17), abs=1e-12)


def test_independent_pixels_samples_follow_the_histograms() -> None:
    split = load_digits_split()
    model = IndependentPixels(split.train)
    images = model.sample_images(20_000, torch.Generator().manual_seed(0))
    assert images.shape == (20_000, 64) and torch.equal(images, images.round())
    freq = torch.nn.functional.one_hot(images.long(), 17).double().mean(0)  # (64, 17)
    # binomial standard error <= sqrt(0.25 / 20000) = 0.0035; 0.02 is > 5 of them
    torch.testing.assert_close(freq, model.base_dist.probs, atol=0.02, rtol=0)


SMALL = dataclasses.replace(
    foundations.CONFIG,
    n_train=800,
    n_val=400,
    n_test=800,
    n_entropy=2_000,
    gmm=GMMConfig(components=(1, 4, 8)),
    mle_n_val=1_000,
    mle_n_test=1_000,
    mle_train=dataclasses.replace(
        foundations.CONFIG.mle_train, steps=400, val_every=20
    ),
)


def test_run_mle_keeps_the_validation_minimiser_and_reports_on_test() -> None:
    samples = foundations.mle_samples(SMALL)
    run = foundations.run_mle(SMALL, samples)
    steps, values = zip(*run.history.val)
    assert run.history.best_step == steps[int(np.argmin(values))]
    assert run.val_kl == pytest.approx(min(values), abs=1e-6)  # the kept parameters
    # validation and test points are two different samples of the same density
    assert not torch.equal(samples.val[:10], samples.test[:10])
    # test NLL - H(p) on the same points is the paired KL estimate
    assert run.test_nll - samples.entropy == pytest.approx(run.test_kl, abs=1e-9)
    # 400 steps from data points already bring the KL far below its value at step 20
    assert run.test_kl < 0.3 * values[0]


def test_diagonal_mixture_matches_torch_distributions() -> None:
    g = torch.Generator().manual_seed(0)
    model = foundations.DiagonalMixture(torch.randn(3, 2, generator=g), init_std=0.7)
    with torch.no_grad():
        model.logits.copy_(torch.tensor([0.0, 1.0, -1.0]))
    x = torch.randn(50, 2, generator=g)
    probs = torch.softmax(torch.tensor([0.0, 1.0, -1.0]), 0)
    dens = sum(
        probs[k] * Normal(model.means[k], 0.7).log_prob(x).sum(1).exp()
        for k in range(3)
    )
    torch.testing.assert_close(
        model.log_prob(x).detach(), dens.log().detach(), atol=1e-5, rtol=0
    )


def test_run_baselines_against_scikit_learn() -> None:
    from sklearn.mixture import GaussianMixture
    from sklearn.neighbors import KernelDensity

    name = "moons"
    row = foundations.run_baselines(SMALL, name)
    # the recipe's samples, drawn again in the documented order
    g = torch.Generator().manual_seed(SMALL.seed + SMALL.datasets.index(name))
    train, val, test = (
        get_density(name).sample(n, g).double().numpy()
        for n in (SMALL.n_train, SMALL.n_val, SMALL.n_test)
    )
    kde = KernelDensity(bandwidth=row.kde_bandwidth).fit(train)
    assert row.kde_nll == pytest.approx(-kde.score_samples(test).mean(), abs=1e-5)
    cfg = SMALL.gmm
    gm = GaussianMixture(
        row.gmm_components,
        covariance_type="full",
        tol=cfg.tol,
        max_iter=cfg.max_iter,
        reg_covar=cfg.reg_covar,
        random_state=cfg.seed,
    ).fit(train)
    assert row.gmm_nll == pytest.approx(-gm.score_samples(test).mean(), abs=1e-4)
    h, se = foundations.dataset_entropy(SMALL, name)
    assert (row.entropy, row.entropy_se) == (h, se)
    assert row.gap("GMM") == pytest.approx(row.gmm_nll - h)
    assert row.gap_se("KDE") == pytest.approx(math.hypot(row.kde_nll_se, se))


def test_why_generative_samples_and_detection_rates() -> None:
    cfg = dataclasses.replace(
        why_generative.CONFIG,
        n_train=300,
        n_val=200,
        n_test=1_000,
        n_calib=1_000,
        n_outliers=500,
    )
    s = why_generative.make_samples(cfg)
    again = why_generative.make_samples(cfg)
    assert torch.equal(s.outliers, again.outliers)  # one seeded generator
    xmin, xmax, ymin, ymax = get_density(cfg.dataset).bounds
    assert s.outliers[:, 0].min() >= xmin and s.outliers[:, 0].max() <= xmax
    assert s.outliers[:, 1].min() >= ymin and s.outliers[:, 1].max() <= ymax
    # rates against a hand-computed threshold, for a score that is simply -|x|^2
    score = lambda x: -(x**2).sum(1)  # noqa: E731
    false_rate, detected = why_generative.detection_rates(score, s, 0.05)
    threshold = np.quantile(score(s.calib).numpy(), 0.05)
    assert false_rate == pytest.approx((score(s.test).numpy() < threshold).mean())
    assert detected == pytest.approx((score(s.outliers).numpy() < threshold).mean())
    gmm, sel = why_generative.fit_mixture(cfg, s)
    assert sel.best == min(sel.val_nll, key=sel.val_nll.get)


_X = torch.randn((10, 2), generator=torch.Generator().manual_seed(0))
_PIXELS = torch.zeros(5, 64)
F, W = foundations, why_generative
_SAMPLES = W.make_samples(
    dataclasses.replace(
        W.CONFIG, n_train=20, n_val=10, n_test=10, n_calib=10, n_outliers=10
    )
)
_ROW = F.BaselineRow("moons", 0.0, 0.0, 1, 0.0, 0.0, 0.1, 0.0, 0.0)
_KDE = GaussianKDE(_X, 0.1)

# fmt: off
BAD_ARGUMENTS = [
    BadArg(GMMConfig, lambda: GMMConfig(components=()), "components"),
    BadArg(GMMConfig, lambda: GMMConfig(tol=0.0), "tol"),
    BadArg(KDEConfig, lambda: KDEConfig(bandwidths=(0.1, -1.0)), "bandwidths"),
    BadArg(Selection, lambda: Selection(best=3, val_nll={1: 0.5, 2: 0.4}), "best"),
    BadArg(fit_gmm, lambda: fit_gmm(_X, 0), "n_components"),
    BadArg(fit_gmm, lambda: fit_gmm(_X, 11), "n_components"),
    BadArg(fit_gmm, lambda: fit_gmm(torch.zeros(10, 2, dtype=torch.int64), 2), "x"),
    BadArg(select_gmm, lambda: select_gmm(_X, torch.zeros(5, 3)), "val"),
    BadArg(select_gmm, lambda: select_gmm(_X, _X, KDEConfig()), "config"),
    BadArg(select_gmm, lambda: select_gmm(_X, _X, GMMConfig(components=(20,))),
           "components"),
    BadArg(GaussianKDE, lambda: GaussianKDE(_X, 0.0), "bandwidth"),
    BadArg(GaussianKDE, lambda: GaussianKDE(torch.randn(10), 0.1), "data"),
    BadArg(GaussianKDE.log_prob, lambda: _KDE.log_prob(torch.randn((3, 3))), "x"),
    BadArg(GaussianKDE.log_prob, lambda: _KDE.log_prob(_X, 0), "batch_size"),
    BadArg(GaussianKDE.sample, lambda: _KDE.sample(0), "n"),
    BadArg(select_bandwidth, lambda: select_bandwidth(_X, _X, batch_size=0),
           "batch_size"),
    BadArg(select_bandwidth, lambda: select_bandwidth(_X, [[0.0, 1.0]]), "val"),
    BadArg(scott_bandwidth, lambda: scott_bandwidth(torch.zeros(0, 2)), "x"),
    BadArg(IndependentPixels, lambda: IndependentPixels(_PIXELS, levels=1), "levels"),
    BadArg(IndependentPixels, lambda: IndependentPixels(_PIXELS, smoothing=0),
           "smoothing"),
    BadArg(IndependentPixels, lambda: IndependentPixels(_PIXELS + 17), "train_pixels"),
    BadArg(IndependentPixels.sample_images,
           lambda: IndependentPixels(_PIXELS).sample_images(0), "n"),
    BadArg(uniform_nll, lambda: uniform_nll(0, 17), "dim"),
    BadArg(uniform_nll, lambda: uniform_nll(64, 1), "levels"),
    BadArg(F.FoundationsConfig, lambda: F.FoundationsConfig(datasets=("swissroll",)),
           "datasets"),
    BadArg(F.FoundationsConfig, lambda: F.FoundationsConfig(n_train=0), "n_train"),
    BadArg(F.FoundationsConfig, lambda: F.FoundationsConfig(mle_val_seed=102),
           "mle_val_seed"),
    BadArg(F.FoundationsConfig, lambda: F.FoundationsConfig(gmm=KDEConfig()), "gmm"),
    BadArg(F.DiagonalMixture, lambda: F.DiagonalMixture(torch.zeros(3)), "init_means"),
    BadArg(F.DiagonalMixture, lambda: F.DiagonalMixture(_X, init_std=0.0), "init_std"),
    BadArg(F.paired_kl, lambda: F.paired_kl(torch.nn.Identity(), _X, torch.zeros(3)),
           "log_p"),
    BadArg(F.MLESamples,
           lambda: F.MLESamples(_X, torch.zeros(3), _X, torch.zeros(10), 0.0, 0.0),
           "log_p_val"),
    BadArg(F.mle_samples, lambda: F.mle_samples({"mle_n_val": 10}), "config"),
    BadArg(F.MLERun,
           lambda: F.MLERun(torch.nn.Linear(2, 2), History(), 0.0, 0.0, 0.0, 0.0),
           "model"),
    BadArg(F.run_mle, lambda: F.run_mle(SMALL, samples=(_X, _X)), "samples"),
    BadArg(F.dataset_entropy, lambda: F.dataset_entropy(None, "moons"), "config"),
    BadArg(F.BaselineRow.gap, lambda: _ROW.gap("VAE"), "model"),
    BadArg(F.run_baselines, lambda: F.run_baselines(SMALL, "ring"), "name"),
    BadArg(W.WhyGenerativeConfig, lambda: W.WhyGenerativeConfig(false_alarm=1.5),
           "false_alarm"),
    BadArg(W.WhyGenerativeConfig, lambda: W.WhyGenerativeConfig(n_calib=0), "n_calib"),
    BadArg(W.WhySamples, lambda: W.WhySamples(_X, _X, _X, _X, torch.zeros(3, 3)),
           "outliers"),
    BadArg(W.make_samples, lambda: W.make_samples("pinwheel"), "config"),
    BadArg(W.fit_mixture, lambda: W.fit_mixture(W.CONFIG, (_X, _X)), "samples"),
    BadArg(W.detection_rates,
           lambda: W.detection_rates(lambda x: x[:, 0], _SAMPLES, 0.0), "false_alarm"),
]
# fmt: on
