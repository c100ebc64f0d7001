"""The model cache and the side-by-side chapter's measures."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from bad_arguments import BadArg
from torch import nn

from tutorial_lib import cache
from tutorial_lib.chapters import vae_digits
from tutorial_lib.chapters.side_by_side import (
    CONFIG,
    SideBySideConfig,
    evaluate_family,
    linear_probe,
    nearest_distance,
    trained_model,
    warm_cache,
)
from tutorial_lib.data import load_digits_split
from tutorial_lib.metrics.digit_features import DigitClassifier


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTORIAL_CACHE", str(tmp_path))
    return tmp_path


def _linear(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Linear(3, 2)


def test_cache_builds_once_then_loads_the_same_weights(tmp_cache):
    calls = []

    def build():
        calls.append(1)
        return _linear(0), {"note": "first"}

    first = cache.load_or_build("lin", {"a": 1}, build, lambda: _linear(1))
    second = cache.load_or_build("lin", {"a": 1}, build, lambda: _linear(1))
    assert not first.hit and second.hit and len(calls) == 1
    assert second.record["note"] == "first" and second.record["seconds"] >= 0
    for p, q in zip(first.model.parameters(), second.model.parameters()):
        assert torch.equal(p, q)
    # another configuration is another key: built again
    third = cache.load_or_build("lin", {"a": 2}, build, lambda: _linear(1))
    assert not third.hit and len(calls) == 2
    assert sorted(p.suffix for p in tmp_cache.iterdir()) == [".json"] * 2 + [".pt"] * 2


def test_fingerprint_depends_on_the_configuration_only_through_its_repr():
    a = cache.fingerprint(vae_digits.CONFIG)
    assert a == cache.fingerprint(dataclasses.replace(vae_digits.CONFIG))
    assert a != cache.fingerprint(dataclasses.replace(vae_digits.CONFIG, seed=1))


def test_nearest_distance_and_probe_on_known_answers():
    train = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    x = torch.tensor([[0.0, 1.0], [3.0, 4.0]])
    assert nearest_distance(x, train) == pytest.approx(0.5)
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(200) % 2
    feats = torch.randn(200, 3, generator=g) + 5.0 * labels[:, None]
    assert linear_probe(feats, labels, feats, labels) == 1.0


def test_a_baseline_row_is_complete():
    split = load_digits_split()
    torch.manual_seed(0)
    classifier = DigitClassifier().eval()  # an untrained feature map: shapes only
    config = dataclasses.replace(CONFIG, n_samples=50)
    row, x = evaluate_family("independent pixels", split, classifier, config)
    assert x.shape == (50, 64) and x.min() >= 0 and x.max() <= 16
    assert row.nll_kind == "exact" and 100 < row.nll < 110  # 106.5 on this split
    assert row.passes == 0 and row.probe is None and 0 < row.classes <= 10


BAD_ARGUMENTS = [
    BadArg(
        cache.load_or_build, lambda: cache.load_or_build("a b", 1, None, None), "name"
    ),
    BadArg(cache.fingerprint, lambda: cache.fingerprint(object()), "config"),
    BadArg(
        SideBySideConfig, lambda: SideBySideConfig(diffusion_steps=7), "diffusion_steps"
    ),
    BadArg(SideBySideConfig, lambda: SideBySideConfig(n_samples=1), "n_samples"),
    BadArg(trained_model, lambda: trained_model("VAE", None), "split"),
    BadArg(trained_model, lambda: trained_model("HMM", load_digits_split()), "family"),
    BadArg(warm_cache, lambda: warm_cache("digits"), "split"),
    BadArg(
        evaluate_family,
        lambda: evaluate_family("HMM", load_digits_split(), DigitClassifier()),
        "family",
    ),
    BadArg(
        nearest_distance,
        lambda: nearest_distance(torch.zeros(3), torch.zeros(2, 2)),
        "x",
    ),
    BadArg(
        linear_probe,
        lambda: linear_probe(
            torch.zeros(3, 2), torch.zeros(2), torch.zeros(1, 2), torch.zeros(1)
        ),
        "train_features",
    ),
]


def test_benchmark_quick_configuration_runs():
    import importlib

    bench = importlib.import_module("benchmarks.side_by_side")
    keys = set(importlib.import_module("benchmarks").RECORD_KEYS)
    records = bench.run(quick=True)
    assert {r["model"] for r in records} == {
        "independent pixels",
        "Gaussian mixture",
        "Gaussian KDE",
    }
    assert all(set(r) == keys and r["suite"] == "side_by_side" for r in records)


# --- the 2-D half ---------------------------------------------------------------------

from tutorial_lib.chapters import elbo, mode_collapse  # noqa: E402
from tutorial_lib.chapters.side_by_side_2d import (  # noqa: E402
    CONFIG_2D,
    FAMILIES_2D,
    Config2D,
    evaluate_2d,
    trained_2d,
    warm_cache_2d,
)


def test_2d_families_cover_every_part():
    assert FAMILIES_2D[:2] == ("Gaussian mixture", "Gaussian KDE")
    assert {"VAE", "GAN", "spline flow", "diffusion", "flow matching"} <= set(
        FAMILIES_2D
    )
    assert set(CONFIG_2D.datasets) == {"8gaussians", "moons"}


def test_gan_and_vae_recipes_train_on_another_density():
    g, history = mode_collapse.train_2d(
        "ring", "remedy", steps=3, progress=False, data="moons"
    )
    assert history.steps == [0, 1, 2]
    assert g.sample(4, torch.Generator().manual_seed(0)).shape == (4, 2)
    short = dataclasses.replace(
        elbo.CONFIG,
        train=dataclasses.replace(elbo.CONFIG.train, steps=3, progress=False),
    )
    model, history = elbo.train_vae_2d(short, data="8gaussians")
    assert len(history.loss) == 3


BAD_ARGUMENTS += [
    BadArg(Config2D, lambda: Config2D(datasets=("pinwheel",)), "datasets"),
    BadArg(Config2D, lambda: Config2D(floor_pairs=1), "floor_pairs"),
    BadArg(trained_2d, lambda: trained_2d("HMM", "moons"), "family"),
    BadArg(trained_2d, lambda: trained_2d("VAE", "pinwheel"), "dataset"),
    BadArg(evaluate_2d, lambda: evaluate_2d("pinwheel"), "dataset"),
    BadArg(warm_cache_2d, lambda: warm_cache_2d("2-D"), "config"),
    BadArg(elbo.train_vae_2d, lambda: elbo.train_vae_2d(data="swiss roll"), "data"),
    BadArg(
        mode_collapse.train_2d,
        lambda: mode_collapse.train_2d("ring", "remedy", data="swiss roll"),
        "data",
    ),
]
