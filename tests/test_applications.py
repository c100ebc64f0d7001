"""The applications chapter: detection measures, anomaly sets and scores, augmentation."""

from __future__ import annotations

import dataclasses
import importlib
import math

import pytest
import torch
from bad_arguments import BadArg

from tutorial_lib.baselines import IndependentPixels
from tutorial_lib.chapters import anomaly, augmentation, autoregressive, vae_digits
from tutorial_lib.chapters.anomaly import AnomalyConfig
from tutorial_lib.chapters.augmentation import AugmentationConfig, AugmentationRun
from tutorial_lib.data import load_digits_split
from tutorial_lib.data.digits import check_split
from tutorial_lib.metrics import (
    detection_metrics,
    discrete_log_likelihood,
    discrete_nll,
)
from tutorial_lib.metrics.digit_features import DigitClassifier
from tutorial_lib.vae import build_vae, iwae_log_likelihood


@pytest.fixture(scope="module")
def digits():
    return load_digits_split()


# --- detection measures --------------------------------------------------------------


def test_detection_metrics_on_known_answers():
    normal, bad = torch.arange(10.0), torch.arange(10.0) + 100
    perfect = detection_metrics(normal, bad)
    assert perfect.auroc == 1.0 and perfect.fpr95 == 0.0
    assert perfect.aupr == pytest.approx(1.0, abs=1e-12)
    reversed_ = detection_metrics(bad, normal)
    assert reversed_.auroc == 0.0 and reversed_.fpr95 == 1.0
    tied = detection_metrics(torch.ones(5), torch.ones(7))
    assert tied.auroc == 0.5 and tied.aupr == pytest.approx(7 / 12)
    # 20 anomalies 1..20, normal scores 0..99 / 10 (0.0, 0.1, ..., 9.9): flagging 95 % of
    # the anomalies (19 of 20, threshold 2) flags the normal scores >= 2, 80 of 100
    fpr = detection_metrics(torch.arange(100.0) / 10, torch.arange(1.0, 21.0)).fpr95
    assert fpr == pytest.approx(0.80)


def test_auroc_is_the_pairwise_probability_with_ties():
    g = torch.Generator().manual_seed(3)
    a = torch.randint(0, 7, (53,), generator=g).double()
    n = torch.randint(0, 6, (41,), generator=g).double()
    pairs = (a[:, None] > n).double() + 0.5 * (a[:, None] == n).double()
    assert detection_metrics(n, a).auroc == pytest.approx(
        float(pairs.mean()), abs=1e-12
    )


def test_discrete_log_likelihood_is_minus_the_per_row_nll():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 17, (30, 4), generator=g).double()
    density = torch.distributions.Independent(
        torch.distributions.Normal(torch.full((4,), 8.0), torch.full((4,), 5.0)), 1
    )
    per_row = discrete_log_likelihood(density, x, samples=3, seed=2)
    mean, se = discrete_nll(_Wrap(density), x, samples=3, seed=2)
    assert per_row.shape == (30,) and per_row.dtype == torch.float64
    assert mean == pytest.approx(float(-per_row.mean()), abs=1e-12)
    assert se == pytest.approx(float(per_row.std() / math.sqrt(30)), abs=1e-12)


class _Wrap(torch.nn.Module):
    def __init__(self, density):
        super().__init__()
        self.density = density

    def log_prob(self, x):
        return self.density.log_prob(x)


# --- anomaly sets ----------------------------------------------------------------------


def test_normal_split_drops_the_held_out_classes_everywhere(digits):
    normal = anomaly.normal_split(digits, (0, 1))
    for part in ("train", "val", "test"):
        labels = getattr(normal, f"{part}_labels")
        assert not torch.isin(labels, torch.tensor([0, 1])).any()
        full = getattr(digits, f"{part}_labels")
        assert len(labels) == int((full > 1).sum())


def test_corruptions_are_what_they_say(digits):
    x = anomaly.normal_split(digits, (0, 1)).test[:50]
    out = anomaly.corrupt(x, anomaly.CONFIG)
    assert set(out) == set(anomaly.CORRUPTIONS)
    for kind, y in out.items():
        assert y.shape == x.shape and torch.equal(y, y.round()), kind
        assert y.min() >= 0 and y.max() <= 16, kind
    assert torch.equal(out["inversion"], 16 - x)
    s = anomaly.CONFIG.shift
    img, shifted = x.view(-1, 8, 8), out["shift"].view(-1, 8, 8)
    assert torch.equal(shifted[:, :, s:], img[:, :, : 8 - s])
    assert (shifted[:, :, :s] == 0).all()
    assert out["blank"].max() <= anomaly.CONFIG.blank_max
    rate = float((out["blank"] > 0).double().mean())
    assert abs(rate - anomaly.CONFIG.blank_rate) < 0.03
    assert not torch.equal(out["noise"], x)
    # the same configuration gives the same corruptions
    assert torch.equal(anomaly.corrupt(x)["noise"], out["noise"])


def test_anomaly_sets_hold_every_kind(digits):
    sets = anomaly.anomaly_sets(digits)
    assert tuple(sets) == anomaly.CONFIG.kinds
    for c in anomaly.CONFIG.held_out:
        x = sets[f"unseen {c}s"]
        assert len(x) == int((digits.test_labels == c).sum())
    for kind in anomaly.CORRUPTIONS:
        assert len(sets[kind]) == anomaly.CONFIG.n_corrupted


# --- scores ----------------------------------------------------------------------------


def test_scores_of_the_independent_pixels_follow_their_definitions(digits):
    config = dataclasses.replace(anomaly.CONFIG, n_corrupted=20)
    s = anomaly.score_family("independent pixels", digits, 0, config)
    normal = anomaly.normal_split(digits, config.held_out)
    model = IndependentPixels(normal.train, 17)
    assert torch.equal(s.normal, model.log_prob(normal.test).double())
    assert torch.equal(s.score("nll"), -s.normal)
    h = float(-s.val.mean())
    assert torch.allclose(
        s.score("typicality", "blank"), (-s.anomalies["blank"] - h).abs()
    )
    bg = anomaly.background_model(normal.train, config)
    ratio = bg.log_prob(normal.test).double() - s.normal
    assert torch.allclose(s.score("ratio"), ratio)
    # inverted digits are far less likely than normal ones under independent pixels
    assert s.metrics("nll", "inversion").auroc == 1.0


def test_background_model_sees_perturbed_pixels(digits):
    train = digits.train
    quiet = anomaly.background_model(
        train, dataclasses.replace(anomaly.CONFIG, background_rate=1e-9)
    )
    noisy = anomaly.background_model(train)
    exact = IndependentPixels(train, 17)
    assert torch.allclose(quiet.log_prob(digits.test), exact.log_prob(digits.test))
    # perturbation flattens the histograms: the background's entropy is larger
    assert float(noisy.base_dist.entropy().sum()) > float(
        exact.base_dist.entropy().sum()
    )


def test_log_likelihood_uses_each_models_own_measure(digits):
    x = digits.test[:6]
    torch.manual_seed(0)
    pixelcnn = autoregressive.build_model(
        autoregressive.CONFIG, autoregressive.CONFIG.model, 0
    ).eval()
    with torch.no_grad():
        exact = pixelcnn.log_prob(x).double()
    assert torch.equal(anomaly.log_likelihood("PixelCNN", pixelcnn, x), exact)
    vae = build_vae(vae_digits.CONFIG.model).eval()
    torch.manual_seed(anomaly.CONFIG.score_seed)
    iw = iwae_log_likelihood(vae, x, anomaly.CONFIG.vae_k).double()
    assert torch.equal(anomaly.log_likelihood("VAE", vae, x), iw)


def test_detection_table_averages_over_seeds(digits):
    config = dataclasses.replace(anomaly.CONFIG, n_corrupted=20, seeds=(0, 1))
    runs = [anomaly.score_family("Gaussian mixture", digits, s, config) for s in (0, 1)]
    table = anomaly.detection_table(runs, "nll")
    values = [r.metrics("nll", "blank").auroc for r in runs]
    mean, se = table[("Gaussian mixture", "blank")]["auroc"]
    assert mean == pytest.approx(sum(values) / 2)
    assert se == pytest.approx(abs(values[0] - values[1]) / 2)


# --- augmentation ----------------------------------------------------------------------


def test_labelled_subset_draws_n_distinct_images_per_class(digits):
    x, y = augmentation.labelled_subset(digits, 4)
    n = augmentation.CONFIG.labels_per_class
    assert torch.equal(torch.bincount(y, minlength=10), torch.full((10,), n))
    assert len(torch.unique(x, dim=0)) >= len(x) - 2  # a few digits are duplicates
    x2, y2 = augmentation.labelled_subset(digits, 4)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not torch.equal(augmentation.labelled_subset(digits, 5)[0], x)


def test_class_gaussian_samples_match_the_fitted_gaussians():
    g = torch.Generator().manual_seed(0)
    codes = torch.randn(20, 3, generator=g, dtype=torch.float64)
    codes[10:] += 5
    labels = torch.tensor([0] * 10 + [1] * 10)
    z, y = augmentation.class_gaussian_samples(codes, labels, 40_000, 0.1, g)
    assert torch.equal(torch.bincount(y), torch.tensor([40_000, 40_000]))
    for c in (0, 1):
        target = codes[labels == c]
        assert torch.allclose(z[y == c].mean(0), target.mean(0), atol=0.03)
        cov = torch.cov(target.T) + 0.1 * torch.eye(3, dtype=torch.float64)
        assert torch.allclose(torch.cov(z[y == c].T), cov, atol=0.05)


def test_summarise_pairs_the_differences():
    runs = [
        AugmentationRun(0, {"none": 0.8, "pixels": 0.7}, {"pixels": 1.0}),
        AugmentationRun(1, {"none": 0.6, "pixels": 0.6}, {"pixels": 0.5}),
    ]
    s = augmentation.summarise(runs)
    assert s["pixels"]["difference"] == pytest.approx(-0.05)
    assert s["pixels"]["difference_se"] == pytest.approx(0.05)
    assert s["none"]["accuracy"] == pytest.approx(0.7)
    assert s["pixels"]["agreement"] == pytest.approx(0.75)
    assert math.isnan(s["none"]["agreement"])


def test_benchmark_quick_configuration_runs():
    bench = importlib.import_module("benchmarks.anomaly")
    keys = set(importlib.import_module("benchmarks").RECORD_KEYS)
    records = bench.run(quick=True)
    assert all(set(r) == keys and r["suite"] == "anomaly" for r in records)
    models = {r["model"] for r in records}
    assert {"independent pixels", "Gaussian mixture", "Gaussian KDE"} <= models
    assert {f"augmentation: {s}" for s in augmentation.SOURCES} <= models
    aurocs = [r for r in records if r["metric"] == "auroc"]
    assert len(aurocs) == 3 * len(anomaly.SCORES) * len(anomaly.CONFIG.kinds)
    assert all(0 <= r["value"] <= 1 for r in aurocs)


BAD_ARGUMENTS = [
    BadArg(check_split, lambda: check_split("digits"), "split"),
    BadArg(
        detection_metrics,
        lambda: detection_metrics(torch.zeros(3, 2), torch.ones(2)),
        "normal",
    ),
    BadArg(
        detection_metrics,
        lambda: detection_metrics(torch.zeros(3), torch.tensor([math.nan])),
        "anomalous",
    ),
    BadArg(
        discrete_log_likelihood,
        lambda: discrete_log_likelihood(object(), torch.zeros(2, 2)),
        "flow",
    ),
    BadArg(
        discrete_log_likelihood,
        lambda: discrete_log_likelihood(_Wrap(None), torch.zeros(2)),
        "x",
    ),
    BadArg(AnomalyConfig, lambda: AnomalyConfig(held_out=(1, 1)), "held_out"),
    BadArg(AnomalyConfig, lambda: AnomalyConfig(seeds=()), "seeds"),
    BadArg(AnomalyConfig, lambda: AnomalyConfig(shift=8), "shift"),
    BadArg(AnomalyConfig, lambda: AnomalyConfig(blank_rate=1.5), "blank_rate"),
    BadArg(anomaly.normal_split, lambda: anomaly.normal_split(None, (0,)), "split"),
    BadArg(
        anomaly.normal_split,
        lambda: anomaly.normal_split(load_digits_split(), (10,)),
        "held_out",
    ),
    BadArg(anomaly.corrupt, lambda: anomaly.corrupt(torch.zeros(3, 8)), "x"),
    BadArg(
        anomaly.anomaly_sets,
        lambda: anomaly.anomaly_sets(load_digits_split(), 1),
        "config",
    ),
    BadArg(
        anomaly.trained_model,
        lambda: anomaly.trained_model("GAN", load_digits_split(), (0, 1), 0),
        "family",
    ),
    BadArg(
        anomaly.trained_model,
        lambda: anomaly.trained_model("VAE", load_digits_split(), (0, 1), -1),
        "seed",
    ),
    BadArg(
        anomaly.warm_cache,
        lambda: anomaly.warm_cache(load_digits_split(), {}),
        "config",
    ),
    BadArg(
        anomaly.background_model,
        lambda: anomaly.background_model(torch.zeros(3)),
        "train",
    ),
    BadArg(
        anomaly.log_likelihood,
        lambda: anomaly.log_likelihood("GAN", None, torch.zeros(2, 64)),
        "family",
    ),
    BadArg(
        anomaly.log_likelihood,
        lambda: anomaly.log_likelihood("VAE", None, torch.zeros(2, 63)),
        "x",
    ),
    BadArg(
        anomaly.score_family,
        lambda: anomaly.score_family("GAN", load_digits_split(), 0),
        "family",
    ),
    BadArg(anomaly.detection_table, lambda: anomaly.detection_table([]), "scores"),
    BadArg(AugmentationConfig, lambda: AugmentationConfig(seeds=(1,)), "seeds"),
    BadArg(AugmentationConfig, lambda: AugmentationConfig(ridge=0), "ridge"),
    BadArg(
        AugmentationConfig,
        lambda: AugmentationConfig(labels_per_class=1),
        "labels_per_class",
    ),
    BadArg(
        augmentation.labelled_subset,
        lambda: augmentation.labelled_subset(load_digits_split(), -2),
        "seed",
    ),
    BadArg(
        augmentation.class_gaussian_samples,
        lambda: augmentation.class_gaussian_samples(
            torch.zeros(4), torch.zeros(4), 3, 0.1, torch.Generator()
        ),
        "codes",
    ),
    BadArg(
        augmentation.class_gaussian_samples,
        lambda: augmentation.class_gaussian_samples(
            torch.zeros(4, 2), torch.zeros(4), 0, 0.1, torch.Generator()
        ),
        "n",
    ),
    BadArg(
        augmentation.representations,
        lambda: augmentation.representations(None),
        "split",
    ),
    BadArg(
        augmentation.run_augmentation,
        lambda: augmentation.run_augmentation(load_digits_split(), None),
        "classifier",
    ),
    BadArg(
        augmentation.run_augmentation,
        lambda: augmentation.run_augmentation(
            load_digits_split(), DigitClassifier(), {}
        ),
        "config",
    ),
    BadArg(augmentation.summarise, lambda: augmentation.summarise([]), "runs"),
]
