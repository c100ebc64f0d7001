"""Tests of the GAN library and of the GAN chapters' recipes: losses against
hand-computed values, the shapes the networks claim, packing, the R1 penalty against a
closed form, one training step against Adam written out by hand, the mode metrics on
samples with known answers, the Fréchet distance, the chapters' ablation and recipes,
the non-finite-loss error, and the bad-argument rows of the GAN part."""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch
from bad_arguments import BadArg

from tutorial_lib import gan
from tutorial_lib.baselines import IndependentPixels
from tutorial_lib.chapters import gan_digits, mode_collapse
from tutorial_lib.data import get_density, load_digits_split, to_pixels
from tutorial_lib.metrics import DigitClassifier
from tutorial_lib.train import NonFiniteLossError


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_losses_match_hand_computed_values():
    # D = sigmoid(logit): logit 0 -> D = 1/2; log 3 -> D = 3/4; -log 3 -> D = 1/4
    real = torch.tensor([0.0, math.log(3.0)])
    fake = torch.tensor([-math.log(3.0), 0.0])
    # -[log(1/2) + log(3/4)]/2 - [log(1 - 1/4) + log(1 - 1/2)]/2
    expected_d = (
        -(math.log(0.5) + math.log(0.75)) / 2 - (math.log(0.75) + math.log(0.5)) / 2
    )
    assert gan.discriminator_loss(real, fake).item() == pytest.approx(
        expected_d, abs=1e-6
    )
    # saturating: mean log(1 - D) = [log(3/4) + log(1/2)] / 2
    sat = gan.generator_loss(fake, "saturating").item()
    assert sat == pytest.approx((math.log(0.75) + math.log(0.5)) / 2, abs=1e-6)
    # non-saturating: -mean log D = -[log(1/4) + log(1/2)] / 2
    ns = gan.generator_loss(fake, "non_saturating").item()
    assert ns == pytest.approx(-(math.log(0.25) + math.log(0.5)) / 2, abs=1e-6)
    with pytest.raises(ValueError, match="kind"):
        gan.generator_loss(fake, "wasserstein")


def test_loss_gradients_saturate_as_described():
    # d/df log(1 - sigmoid(f)) = -sigmoid(f): tiny where D(G(z)) ~ 0;
    # d/df -log sigmoid(f) = -(1 - sigmoid(f)): close to -1 there.
    f = torch.tensor([-6.0], requires_grad=True)
    (g_sat,) = torch.autograd.grad(gan.generator_loss(f, "saturating"), f)
    (g_ns,) = torch.autograd.grad(gan.generator_loss(f, "non_saturating"), f)
    d = torch.sigmoid(torch.tensor(-6.0))
    assert g_sat.item() == pytest.approx(-d.item(), rel=1e-5)
    assert g_ns.item() == pytest.approx(-(1 - d.item()), rel=1e-5)


def test_mlp_shapes_and_packing():
    g = gan.MLPGenerator(latent_dim=3, hidden=16, layers=2, out_dim=2)
    z = torch.randn(12, 3)
    assert g(z).shape == (12, 2)
    assert g.sample(5).shape == (5, 2)
    d = gan.MLPDiscriminator(in_dim=2, hidden=16, layers=2, pack=4)
    x = torch.randn(12, 2)
    assert d(x).shape == (3,)
    # packing = concatenating consecutive rows: equal to an unpacked net on (B, 8)
    manual = d.net(x.reshape(3, 8)).squeeze(-1)
    torch.testing.assert_close(d(x), manual)
    with pytest.raises(ValueError, match="pack"):
        d(torch.randn(10, 2))
    with pytest.raises(ValueError, match="z must have shape"):
        g(torch.randn(4, 2))
    with pytest.raises(ValueError, match="pack"):
        gan.GANConfig(batch_size=10, pack=4)
    with pytest.raises(ValueError, match="loss"):
        gan.GANConfig(loss="hinge")


def test_tanh_output_is_bounded_and_scaled():
    g = gan.MLPGenerator(latent_dim=3, hidden=8, layers=1, out_scale=2.0, output="tanh")
    x = g(100 * torch.randn(500, 3))  # far-out noise saturates the tanh, not beyond
    assert x.abs().max() <= 2.0
    z = torch.randn(7, 3)
    torch.testing.assert_close(g(z), 2.0 * torch.tanh(g.net(z)))
    with pytest.raises(ValueError, match="output"):
        gan.GANConfig(output="sigmoid")


def test_r1_penalty_matches_closed_form_for_a_linear_discriminator():
    # f(x) = w.x + b has gradient w everywhere: R1 = |w|^2 (per sample; packs sum).
    d = gan.MLPDiscriminator(in_dim=2, hidden=4, layers=1, pack=2)
    lin = torch.nn.Linear(4, 1)
    d.net = torch.nn.Sequential(lin)
    real = torch.randn(8, 2)
    expected = lin.weight.pow(2).sum()
    torch.testing.assert_close(gan.r1_penalty(d, real), expected)


def test_conv_networks_shapes():
    g = gan.ConvGenerator(latent_dim=8, channels=8)
    x = g.sample(6)
    assert x.shape == (6, 64) and x.abs().max() <= 1.0
    d = gan.ConvDiscriminator(channels=8)
    assert d(x).shape == (6,)
    c = DigitClassifier()
    assert c(to_pixels(x)).shape == (6, 10)
    assert c.features(to_pixels(x)).shape == (6, 32)
    with pytest.raises(ValueError, match="64"):
        d(torch.randn(6, 63))


def test_independent_pixels_reproduces_marginals():
    # pixel 0 always 0, pixel 1 equally often 4 and 8 (before add-one smoothing)
    train = torch.zeros(400, 64)
    train[::2, 1] = 4.0
    train[1::2, 1] = 8.0
    base = IndependentPixels(train)
    x = base.sample_images(20000, torch.Generator().manual_seed(0))
    p4 = 201 / (400 + 17)
    assert (x[:, 1] == 4).float().mean().item() == pytest.approx(p4, abs=0.01)
    assert (x[:, 0] == 0).float().mean().item() == pytest.approx(401 / 417, abs=0.01)


def _metrics():
    from tutorial_lib import metrics

    return metrics


def test_mode_metrics_known_answers():
    metrics = _metrics()
    ring = get_density("ring")
    means, std = ring.means.float(), ring.std
    # 3 samples exactly on mode 0, 1 on mode 1, one far away (low quality)
    x = torch.stack([means[0], means[0], means[0], means[1], torch.zeros(2)])
    # just inside and just outside 3 sigma of mode 2
    edge = means[2] + torch.tensor([2.99 * std, 0.0])
    assert metrics.assign_modes(
        torch.cat([x, edge[None], (edge + 0.02 * std)[None]]), means, std
    ).tolist() == [0, 0, 0, 1, -1, 2, -1]
    stats = metrics.mode_metrics(x, means, std)
    assert stats.modes == 2
    assert stats.high_quality == pytest.approx(0.8)
    # KL((3/4, 1/4, 0...) || uniform over 8) = 3/4 log(6) + 1/4 log(2)
    assert stats.kl_uniform == pytest.approx(
        0.75 * math.log(6) + 0.25 * math.log(2), abs=1e-5
    )
    # real data: every mode, about 1 - exp(-9/2) = 98.9 % within 3 sigma in 2-D
    real = metrics.mode_metrics(
        ring.sample(2500, torch.Generator().manual_seed(0)), means, std
    )
    assert real.modes == 8
    assert real.high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.01)


def test_frechet_distance_zero_and_closed_form():
    metrics = _metrics()
    f = torch.randn(500, 3, dtype=torch.float64)
    assert metrics.frechet_distance_features(f, f) == pytest.approx(0.0, abs=1e-6)
    # N(m1, a^2 I) vs N(m2, b^2 I) in d dims: |m1 - m2|^2 + d (a - b)^2
    d, a, b = 3, 1.0, 2.0
    m1, m2 = torch.zeros(d, dtype=torch.float64), torch.ones(d, dtype=torch.float64)
    value = metrics.frechet_distance(
        m1,
        a**2 * torch.eye(d, dtype=torch.float64),
        m2,
        b**2 * torch.eye(d, dtype=torch.float64),
    )
    assert value == pytest.approx(d * 1.0 + d * (a - b) ** 2, rel=1e-6)


def test_non_finite_loss_stops_training_with_the_step():
    g, d = gan.GANConfig(hidden=8, layers=1).build()

    def bad_data(n: int, rng: torch.Generator) -> torch.Tensor:
        return torch.full((n, 2), float("nan"))

    with pytest.raises(NonFiniteLossError, match="at step 0"):
        gan.train_gan(
            g,
            d,
            bad_data,
            gan.GANConfig(steps=5, batch_size=8, hidden=8, layers=1),
            progress=False,
        )


def test_short_training_moves_generator_towards_data():
    # 200 steps on a single Gaussian at (3, 3): the generated mean must approach it.
    cfg = gan.GANConfig(steps=200, batch_size=64, hidden=32, layers=2, lr=2e-3)
    g, d = cfg.build()
    target = torch.tensor([3.0, 3.0])

    def data(n: int, rng: torch.Generator) -> torch.Tensor:
        return target + 0.1 * torch.randn(n, 2, generator=rng)

    before = (gan.generate(g, 1000).mean(0) - target).norm().item()
    hist = gan.train_gan(g, d, data, cfg, progress=False)
    after = (gan.generate(g, 1000).mean(0) - target).norm().item()
    assert len(hist.values["d_loss"]) == 200
    assert after < 0.3 < before


def test_uniform_prior_is_bounded_and_normal_is_not():
    g = gan.MLPGenerator(latent_dim=3, hidden=8, layers=1, prior="uniform")
    z = g.noise(20000, torch.Generator().manual_seed(0))
    assert z.shape == (20000, 3)
    assert z.abs().max() <= 1.0
    # uniform on [-1, 1]: mean 0, variance 1/3 (standard errors about 0.004 and 0.002)
    torch.testing.assert_close(z.mean(0), torch.zeros(3), atol=0.02, rtol=0)
    torch.testing.assert_close(z.var(0), torch.full((3,), 1 / 3), atol=0.01, rtol=0)
    zn = gan.MLPGenerator(latent_dim=3, hidden=8, layers=1).noise(
        20000, torch.Generator().manual_seed(0)
    )
    assert (
        zn.abs().max() > 3.0
    )  # P(|z| > 3) = 0.0027 per coordinate: about 160 of 60,000
    assert gan.GANConfig(prior="uniform").build()[0].prior == "uniform"
    with pytest.raises(ValueError, match="prior"):
        gan.MLPGenerator(prior="cauchy")
    with pytest.raises(ValueError, match="prior"):
        gan.GANConfig(prior="cauchy")
    with pytest.raises(ValueError, match="r1_every"):
        gan.GANConfig(r1_every=0)


def test_lazy_r1_is_computed_every_k_steps(monkeypatch):
    # Count the penalty's calls.
    calls = []
    original = gan.training.r1_penalty

    def counting(d, real):
        value = original(d, real)
        calls.append(value.detach())
        return value

    monkeypatch.setattr(gan.training, "r1_penalty", counting)
    cfg = gan.GANConfig(steps=9, batch_size=16, hidden=8, layers=1, r1=0.5, r1_every=4)
    g, d = cfg.build()
    gan.train_gan(
        g, d, lambda n, rng: torch.randn(n, 2, generator=rng), cfg, progress=False
    )
    assert len(calls) == 3  # steps 0, 4 and 8
    # the discriminator's weights take gradients again after the generator's step, and a
    # weight frozen by the caller stays frozen
    assert all(p.requires_grad for p in d.parameters())
    d.net[0].bias.requires_grad_(False)
    gan.train_gan(
        g, d, lambda n, rng: torch.randn(n, 2, generator=rng), cfg, progress=False
    )
    assert not d.net[0].bias.requires_grad
    assert all(
        p.requires_grad for name, p in d.named_parameters() if name != "net.0.bias"
    )


def test_lr_schedule():
    cfg = gan.GANConfig(steps=100, lr_final=0.1, decay_fraction=0.5)
    assert cfg.lr_factor(0) == 1.0 and cfg.lr_factor(49) == 1.0
    assert cfg.lr_factor(75) == pytest.approx(0.55)
    assert cfg.lr_factor(100) == pytest.approx(0.1)


def test_gan_step_matches_gradients_by_hand():
    # G(z) = theta + z (one parameter), D's logit f(x) = w x + c, plain SGD: the
    # gradients of both losses in closed form, with sigma the logistic function.
    class Shift(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.theta = torch.nn.Parameter(torch.tensor([0.5]))

        def forward(self, z):
            return self.theta + z

    class Logit(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(1, 1)

        def forward(self, x):
            return self.lin(x)[:, 0]

    g, disc = Shift(), Logit()
    d = disc.lin
    with torch.no_grad():
        d.weight.fill_(0.8)
        d.bias.fill_(-0.3)
    real, z = torch.randn(16, 1), torch.randn(16, 1)
    lr = 0.1
    opt_g, opt_d = torch.optim.SGD(g.parameters(), lr=lr), torch.optim.SGD(
        d.parameters(), lr=lr
    )
    w, c, theta = 0.8, -0.3, 0.5
    xr, xf = real[:, 0].double(), (theta + z[:, 0]).double()
    sig = torch.sigmoid
    grad_w = (-sig(-(w * xr + c)) * xr).mean() + (sig(w * xf + c) * xf).mean()
    grad_c = (-sig(-(w * xr + c))).mean() + sig(w * xf + c).mean()
    w2, c2 = w - lr * grad_w.item(), c - lr * grad_c.item()
    grad_theta = (
        -sig(-(w2 * xf + c2)) * w2
    ).mean()  # non-saturating, through the new D
    d_loss = (
        torch.nn.functional.softplus(-(w * xr + c)).mean()
        + torch.nn.functional.softplus(w * xf + c).mean()
    )
    config = gan.GANConfig(batch_size=16)
    out = gan.gan_step(g, disc, opt_g, opt_d, real, z, config)
    assert out["d_loss"].item() == pytest.approx(d_loss.item(), rel=1e-5)
    assert d.weight.item() == pytest.approx(w2, rel=1e-5)
    assert d.bias.item() == pytest.approx(c2, rel=1e-5)
    assert g.theta.item() == pytest.approx(theta - lr * grad_theta.item(), rel=1e-5)


def _small_mode_collapse() -> mode_collapse.ModeCollapseConfig:
    return dataclasses.replace(
        mode_collapse.CONFIG, n_eval=200, ablation_steps=(20, 20)
    )


def test_ablation_removes_exactly_one_change():
    config = mode_collapse.CONFIG
    names = {f.name for f in dataclasses.fields(gan.GANConfig)}
    for dataset in mode_collapse.DATASETS:
        plain, remedy = config.plain(dataset), config.remedy(dataset)
        assert mode_collapse.gan_config(dataset, "GAN") == plain
        assert mode_collapse.gan_config(dataset, "remedy") == remedy
        assert mode_collapse.gan_config(dataset, "remedy + PacGAN4").pack == 4
        for change, fields in mode_collapse.CHANGES:
            ablated = mode_collapse.gan_config(dataset, f"remedy without {change}")
            assert any(
                getattr(remedy, f) != getattr(plain, f) for f in fields
            )  # a real change
            for f in names:
                expected = getattr(plain if f in fields else remedy, f)
                assert getattr(ablated, f) == expected, (dataset, change, f)
        short = mode_collapse.gan_config(dataset, "remedy", steps=50)
        assert short == dataclasses.replace(remedy, steps=50)
    with pytest.raises(ValueError, match="hidden"):
        dataclasses.replace(
            config, ring_remedy=dataclasses.replace(config.ring_remedy, hidden=64)
        )


def test_run_2d_is_deterministic_and_scores_its_samples():
    config = _small_mode_collapse()
    stats, seconds = mode_collapse.run_2d("ring", "remedy", 1, config, steps=20)
    again, _ = mode_collapse.run_2d("ring", "remedy", 1, config, steps=20)
    assert seconds > 0
    assert stats.counts.tolist() == again.counts.tolist()
    assert stats.high_quality == again.high_quality
    g, history = mode_collapse.train_2d(
        "ring", "remedy", 1, config, steps=20, progress=False
    )
    assert len(history.steps) == 20
    manual = mode_collapse.evaluate_2d(g, "ring", 1, config)
    assert manual.counts.tolist() == stats.counts.tolist()
    assert manual.counts.sum().item() == round(manual.high_quality * config.n_eval)


def _small_digits() -> gan_digits.GANDigitsConfig:
    c = gan_digits.CONFIG
    return dataclasses.replace(
        c,
        mlp=dataclasses.replace(c.mlp, steps=20),
        conv=dataclasses.replace(c.conv, steps=5),
        classifier=dataclasses.replace(
            c.classifier, steps=30, val_every=10, progress=False
        ),
        n_samples=60,
    )


def test_digits_recipes():
    split = load_digits_split()
    config = _small_digits()
    clf = gan_digits.digits_classifier(split, config)
    # the test split against itself is at distance 0
    assert gan_digits.frechet_to_test(clf, split.test, split) == pytest.approx(
        0.0, abs=1e-6
    )
    counts = gan_digits.class_counts(clf, split.test)
    assert counts.sum().item() == len(split.test) and counts.shape == (10,)
    for model in gan_digits.MODELS:
        fd, counts, seconds = gan_digits.run_digits_gan(split, clf, model, 0, config)
        assert fd > 0 and seconds > 0 and counts.sum().item() == config.n_samples
        g, _ = gan_digits.train_digits_gan(split, model, 0, config, progress=False)
        x = gan_digits.sample_digits(g, config.n_samples, config.sample_seed)
        assert x.shape == (config.n_samples, 64) and x.min() >= 0 and x.max() <= 16
        assert gan_digits.frechet_to_test(clf, x, split) == pytest.approx(fd, rel=1e-9)


def test_benchmark_quick_runs():
    import importlib
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    suites = importlib.import_module("benchmarks.gan").SUITES
    keys = set(importlib.import_module("benchmarks").RECORD_KEYS)
    records = suites["gan2d"](True) + suites["gan_digits"](True)
    assert records and all(set(r) == keys for r in records)
    # a 20-step generator may have no high-quality sample at all: its KL to uniform is
    # then undefined (NaN in tutorial_lib.metrics); every other value must be finite
    assert all(math.isfinite(r["value"]) for r in records if "KL" not in r["metric"])
    models = {r["model"] for r in records if r["suite"] == "gan2d"}
    assert {"GAN", "remedy", "remedy + PacGAN4"} <= models
    assert sum(m.startswith("remedy without") for m in models) == len(
        mode_collapse.CHANGES
    )
    # the Frechet distance is a squared distance: non-negative
    fd = [r for r in records if r["suite"] == "gan_digits" and "Frechet" in r["metric"]]
    assert fd and all(r["value"] >= 0 for r in fd)


def test_gan2d_in_worker_processes_gives_the_same_records():
    # the suite's runs trained in two spawned single-threaded processes give exactly
    # the values of the runs trained in this process (only the CPU seconds differ)
    import importlib
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    gan2d = importlib.import_module("benchmarks.gan").SUITES["gan2d"]

    def values(records):  # repr: a 20-step run's KL may be NaN, and NaN != NaN
        return [(r["task"], r["model"], r["metric"], repr(r["value"])) for r in records
                if "seconds" not in r["metric"]]

    assert values(gan2d(True, workers=2)) == values(gan2d(True))


def _tiny_gan() -> tuple[torch.nn.Module, torch.nn.Module]:
    return gan.GANConfig(hidden=4, layers=1).build()


def _adam(module: torch.nn.Module) -> torch.optim.Optimizer:
    return torch.optim.Adam(module.parameters())


def _gan_step_bad_rows():
    g, d = _tiny_gan()
    return gan.gan_step(
        g, d, _adam(g), _adam(d), torch.zeros(4, 2), torch.zeros(3, 2), gan.GANConfig()
    )


_SPLIT = load_digits_split()

BAD_ARGUMENTS = [
    BadArg(gan.MLPGenerator, lambda: gan.MLPGenerator(prior="cauchy"), "prior"),
    BadArg(gan.MLPDiscriminator, lambda: gan.MLPDiscriminator(pack=0), "pack"),
    BadArg(gan.ConvGenerator, lambda: gan.ConvGenerator(latent_dim=0), "latent_dim"),
    BadArg(
        gan.ConvDiscriminator, lambda: gan.ConvDiscriminator(channels=0), "channels"
    ),
    BadArg(
        gan.discriminator_loss,
        lambda: gan.discriminator_loss(torch.zeros(3, 1), torch.zeros(3)),
        "real_logits",
    ),
    BadArg(
        gan.generator_loss, lambda: gan.generator_loss(torch.zeros(3), "hinge"), "kind"
    ),
    BadArg(
        gan.r1_penalty,
        lambda: gan.r1_penalty(torch.nn.Identity(), torch.zeros(3)),
        "real",
    ),
    BadArg(gan.GANConfig, lambda: gan.GANConfig(r1=-1.0), "r1"),
    BadArg(gan.GANConfig.build, lambda: gan.GANConfig().build(data_dim=0), "data_dim"),
    BadArg(gan.GANConfig.lr_factor, lambda: gan.GANConfig().lr_factor(-1), "step"),
    BadArg(gan.gan_step, _gan_step_bad_rows, "real"),
    BadArg(
        gan.train_gan,
        lambda: gan.train_gan(
            *_tiny_gan(),
            lambda n, r: torch.zeros(n, 2),
            gan.GANConfig(),
            callback_every=-1,
        ),
        "callback_every",
    ),
    BadArg(gan.generate, lambda: gan.generate(_tiny_gan()[0], 0), "n"),
    BadArg(
        mode_collapse.ModeCollapseConfig,
        lambda: mode_collapse.ModeCollapseConfig(ablation_steps=(0, 10)),
        "ablation_steps",
    ),
    BadArg(
        mode_collapse.ModeCollapseConfig.plain,
        lambda: mode_collapse.CONFIG.plain("moons"),
        "dataset",
    ),
    BadArg(
        mode_collapse.gan_config,
        lambda: mode_collapse.gan_config("ring", "WGAN"),
        "method",
    ),
    BadArg(
        mode_collapse.train_2d,
        lambda: mode_collapse.train_2d("ring", "GAN", seed=-1),
        "seed",
    ),
    BadArg(
        mode_collapse.evaluate_2d,
        lambda: mode_collapse.evaluate_2d(_tiny_gan()[0], "moons"),
        "dataset",
    ),
    BadArg(
        mode_collapse.run_2d,
        lambda: mode_collapse.run_2d("ring", "GAN", steps=0),
        "steps",
    ),
    BadArg(
        gan_digits.GANDigitsConfig,
        lambda: gan_digits.GANDigitsConfig(n_samples=1),
        "n_samples",
    ),
    BadArg(
        gan_digits.GANDigitsConfig.train,
        lambda: gan_digits.CONFIG.train("vae"),
        "model",
    ),
    BadArg(
        gan_digits.digits_classifier,
        lambda: gan_digits.digits_classifier("digits"),
        "split",
    ),
    BadArg(
        gan_digits.build_digits_gan, lambda: gan_digits.build_digits_gan("vae"), "model"
    ),
    BadArg(
        gan_digits.train_digits_gan,
        lambda: gan_digits.train_digits_gan(_SPLIT, "mlp", seed=-1),
        "seed",
    ),
    BadArg(
        gan_digits.sample_digits,
        lambda: gan_digits.sample_digits(_tiny_gan()[0], 0, seed=0),
        "n",
    ),
    BadArg(
        gan_digits.frechet_to_test,
        lambda: gan_digits.frechet_to_test(
            DigitClassifier(), torch.zeros(5, 63), _SPLIT
        ),
        "pixels",
    ),
    BadArg(
        gan_digits.class_counts,
        lambda: gan_digits.class_counts(DigitClassifier(), torch.zeros(5, 63)),
        "pixels",
    ),
    BadArg(
        gan_digits.run_digits_gan,
        lambda: gan_digits.run_digits_gan(_SPLIT, DigitClassifier(), "vae"),
        "model",
    ),
]
