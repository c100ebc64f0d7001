"""The autoregressive part: the autoregressive property by autograd (MADE, the plain and
the gated PixelCNN, with the plain one's blind spot), normalisation and sampling on
cases small enough to enumerate, teacher forcing against the conditionals computed one
pixel at a time, the Gaussian MADE against the flows part's MAF layer, the chapter's
recipes, the benchmark's quick mode, and the bad-argument rows of
tutorial_lib.autoregressive and of the chapter.
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import math
import sys
from pathlib import Path

import pytest
import torch
from bad_arguments import BadArg
from scipy import stats
from torch.distributions import Categorical

from tutorial_lib.autoregressive import (
    ARConfig,
    AutoregressiveModel,
    all_configurations,
    CategoricalMADE,
    GatedPixelCNN,
    GaussianMADE,
    MaskedConv2d,
    OrderMixture,
    PixelCNN,
    build_ar,
    check_order,
    check_pixels,
    dependencies,
    exact_nll,
    nll_loss,
    pixelcnn_mask,
    receptive_field,
)
from tutorial_lib.chapters import autoregressive as chapter
from tutorial_lib.flows import Flow, MaskedAutoregressive


def _perturb(model: torch.nn.Module, seed: int, scale: float = 0.5) -> torch.nn.Module:
    """Random weights everywhere (a fresh MADE's zero last layer would hide every
    dependence)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=gen))
    return model


def _position(model: AutoregressiveModel) -> torch.Tensor:
    """``pos[j]`` = the place of pixel ``j`` in the model's order."""
    pos = torch.empty(model.dim, dtype=torch.long)
    pos[model.order] = torch.arange(model.dim)
    return pos


def _later(model: AutoregressiveModel) -> torch.Tensor:
    """``[i, j]`` true when pixel ``j`` is not before pixel ``i`` in the order."""
    pos = _position(model)
    return pos[None, :] >= pos[:, None]


def _all_configurations(dim: int, levels: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product(range(levels), repeat=dim))).float()


def _small_models() -> dict[str, AutoregressiveModel]:
    """Four pixels, three levels: every model enumerable (81 configurations)."""
    torch.manual_seed(0)
    return {
        "made": CategoricalMADE(4, 3, 12, 2, order=[2, 0, 3, 1], dropout=0.2),
        "pixelcnn": PixelCNN((2, 2), 3, channels=6, layers=2),
        "gated": GatedPixelCNN((2, 2), 3, channels=6, layers=2),
    }


@pytest.fixture(params=list(_small_models()))
def small(request) -> AutoregressiveModel:
    return _perturb(_small_models()[request.param], seed=1).double().eval()


# --- the autoregressive property -------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_made_jacobian_is_zero_on_and_after_the_diagonal_in_its_order(seed):
    """d logits_i / d x_j = 0 exactly for every j not before i, in a random order; and
    every j before i is reached (a MADE with enough hidden units connects them all)."""
    order = torch.randperm(10, generator=torch.Generator().manual_seed(seed))
    model = _perturb(CategoricalMADE(10, 5, 64, 2, order), seed)
    found = dependencies(model)
    later = _later(model)
    assert not (found & later).any(), "an output depends on itself or a later pixel"
    assert found[~later].all(), "MADE missed an earlier pixel"


def test_dependencies_detects_a_model_that_cheats():
    """The check can fail: a model whose logits see every pixel is caught."""

    class Cheat(CategoricalMADE):
        def logits(self, x):
            return super().logits(x) + self.encode(x).sum(1)[:, None, None]

    cheat = _perturb(Cheat(5, 3, 16, 1), 0)
    found = dependencies(cheat)
    assert found[_later(cheat)].all()  # every pixel, itself and later ones included


def test_pixelcnn_blind_spot_and_the_gated_fix():
    """Both PixelCNNs are autoregressive in raster order; with the same depth the plain
    one misses earlier pixels (its blind spot, above and to the right), the gated one
    sees every earlier pixel of a 5x5 image."""
    torch.manual_seed(0)
    plain = PixelCNN((5, 5), 3, channels=8, layers=4, first_kernel=3)
    gated = GatedPixelCNN((5, 5), 3, channels=8, layers=4)
    later = _later(plain)
    for model in (plain, gated):
        assert not (dependencies(model) & later).any(), type(model).__name__
    missed = ~dependencies(plain) & ~later
    assert not (~dependencies(gated) & ~later).any()
    # pixel (4, 1) of the plain model: blind to (3, 4), up and right, although earlier
    field = receptive_field(plain, 4 * 5 + 1).reshape(5, 5)
    assert not field[3, 4] and field[3, 2] and field[4, 0]
    # the blind pixels are always to the right of the pixel's column
    rows, cols = missed.nonzero().T
    assert (cols % 5 > rows % 5).all()
    assert missed.sum() > 0


def test_mask_types():
    """Type A hides the centre, type B keeps it, V keeps the whole centre row."""
    a, b, v = (pixelcnn_mask(3, 3, k) for k in "ABV")
    assert a.tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert b.tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    assert v.tolist() == [[1, 1, 1], [1, 1, 1], [0, 0, 0]]
    conv = MaskedConv2d(1, 1, 3, "A")
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 1, 1] = 1.0  # a unit input at the centre reaches no output position
    bias = conv.bias.detach()
    y = conv(x) - bias  # the centre itself is hidden; only later positions are reached
    assert y[0, 0, 1, 1] == 0 and y[0, 0, :1].abs().sum() == 0


# --- normalisation, teacher forcing, sampling --------------------------------------


def test_probabilities_of_all_configurations_sum_to_one(small):
    x = _all_configurations(small.dim, small.levels).double()
    total = small.log_prob(x).exp().sum().item()
    # 81 float64 terms: rounding near 1e-15
    assert abs(total - 1.0) < 1e-12, total


def test_mixture_of_orders_sums_to_one():
    torch.manual_seed(0)
    parts = [CategoricalMADE(3, 3, 8, 1, order=o) for o in ([0, 1, 2], [2, 1, 0])]
    mix = OrderMixture([_perturb(m, i).double() for i, m in enumerate(parts)])
    x = _all_configurations(3, 3).double()
    total = mix.log_prob(x).exp().sum().item()
    assert abs(total - 1.0) < 1e-12
    # and it is the average of the two components' probabilities
    avg = torch.stack([m.log_prob(x).exp() for m in mix.models]).mean(0)
    torch.testing.assert_close(mix.log_prob(x).exp(), avg, rtol=1e-12, atol=0)


def test_teacher_forcing_equals_the_conditionals_one_pixel_at_a_time(small):
    """log_prob (one pass over the true image) equals the sum over k of
    log p(x_{pi_k} | x_{pi_<k}) computed with every later pixel replaced by noise."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randint(0, small.levels, (16, small.dim), generator=gen).double()
    total = torch.zeros(16, dtype=torch.float64)
    for k, i in enumerate(small.order.tolist()):
        partial = torch.randint(0, small.levels, x.shape, generator=gen).double()
        known = small.order[:k]
        partial[:, known] = x[:, known]
        total += Categorical(logits=small.logits(partial)[:, i]).log_prob(x[:, i])
    torch.testing.assert_close(small.log_prob(x), total, rtol=1e-12, atol=1e-12)


def test_samples_follow_the_models_own_probabilities(small):
    """20,000 sequential samples against the 81 exact probabilities (chi-square)."""
    n = 20_000
    samples = small.sample(n, torch.Generator().manual_seed(4))
    configs = _all_configurations(small.dim, small.levels)
    place = small.levels ** torch.arange(small.dim - 1, -1, -1)  # lexicographic code
    codes = (samples.long() * place).sum(1)
    observed = torch.bincount(codes, minlength=len(configs)).double()
    expected = n * small.log_prob(configs.double()).exp().detach()
    keep = expected > 5  # chi-square's usual validity rule; pool the rest
    obs = torch.cat([observed[keep], observed[~keep].sum()[None]])
    exp = torch.cat([expected[keep], expected[~keep].sum()[None]])
    exp = exp * obs.sum() / exp.sum()
    p = stats.chisquare(obs.numpy(), exp.numpy()).pvalue
    assert p > 1e-3, p  # a wrong sampler gives p ~ 0 at n = 20,000


def test_sampling_is_reproducible_with_a_generator():
    model = _perturb(CategoricalMADE(6, 4, 8, 1), 0)
    a = model.sample(5, torch.Generator().manual_seed(9))
    b = model.sample(5, torch.Generator().manual_seed(9))
    assert torch.equal(a, b) and a.shape == (5, 6)
    assert torch.equal(a, a.round()) and a.min() >= 0 and a.max() <= 3


# --- Gaussian conditionals are MAF ----------------------------------------------


def test_gaussian_made_is_the_maf_layer():
    """Same MADE weights: the Gaussian autoregressive density equals the density of a
    flow with one MAF layer, and the same noise gives the same samples."""
    torch.manual_seed(0)
    layer = MaskedAutoregressive(5, hidden=16, depth=2, kind="affine", reverse=True)
    flow = _perturb(Flow([layer], 5), 1, scale=0.3).double()
    ar = GaussianMADE(5, 16, 2, order=layer.order, clamp=layer.clamp).double()
    ar.made.load_state_dict(layer.made.state_dict())
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(32, 5, generator=gen, dtype=torch.float64)
    # float64, the same operations in another arrangement: agreement to rounding
    torch.testing.assert_close(ar.log_prob(x), flow.log_prob(x), rtol=1e-12, atol=1e-12)
    a = ar.sample(8, torch.Generator().manual_seed(5)).double()
    b = flow.sample(8, torch.Generator().manual_seed(5))
    torch.testing.assert_close(a, b.float().double(), rtol=1e-5, atol=1e-5)


# --- library helpers --------------------------------------------------------------


def test_exact_nll_against_a_direct_mean():
    # float64 throughout: batches of 7 and one batch of 50 then agree to round-off (in
    # float32 the matrix products of different batch shapes differ by about 1e-8)
    model = _perturb(CategoricalMADE(6, 4, 8, 1), 0).double().eval()
    x = torch.randint(0, 4, (50, 6), generator=torch.Generator().manual_seed(1)).double()
    nll, se = exact_nll(model, x, batch_size=7)
    per = -model.log_prob(x).double()
    assert abs(nll - per.mean().item()) < 1e-9
    assert abs(se - per.std().item() / math.sqrt(50)) < 1e-9
    # a fresh MADE (zero last layer) is uniform: D log L nats
    fresh = CategoricalMADE(6, 4, 8, 1)
    assert abs(exact_nll(fresh, x)[0] - 6 * math.log(4)) < 1e-5
    assert abs(nll_loss(fresh, x).item() - 6 * math.log(4)) < 1e-5


def test_all_configurations_against_itertools():
    torch.testing.assert_close(all_configurations(3, 4), _all_configurations(3, 4))
    assert all_configurations(2, 17).shape == (289, 2)


def test_build_ar_kinds():
    kinds = (
        ("made", CategoricalMADE),
        ("pixelcnn", PixelCNN),
        ("gated", GatedPixelCNN),
    )
    for kind, cls in kinds:
        model = build_ar(ARConfig(kind, width=8, depth=1), (3, 3), 5)
        assert isinstance(model, cls) and model.dim == 9 and model.levels == 5
    order = torch.randperm(9, generator=torch.Generator().manual_seed(0))
    model = build_ar(ARConfig("made", width=8), (3, 3), 5, order)
    assert torch.equal(model.order, order)


# --- the chapter's recipes ----------------------------------------------------------


def test_total_probability_of_a_chapter_sized_case():
    model = _perturb(CategoricalMADE(3, 3, 8, 2), 0).double()
    assert abs(chapter.total_probability(model) - 1.0) < 1e-12


def test_receptive_fields_show_the_blind_spot():
    fields = chapter.receptive_fields(chapter.CONFIG, (4, 3))
    earlier = fields["earlier"]
    for name in ("plain", "gated"):
        assert not (fields[name] & ~earlier).any(), name
    assert (earlier & ~fields["plain"]).any()  # the blind spot
    assert fields["gated"][3, 3:].all()  # the row above, right of the pixel: seen


_TINY = torch.randint(
    0, 17, (60, 64), generator=torch.Generator().manual_seed(0)
).float()


def test_train_model_restores_the_best_validation_nll():
    train_config = dataclasses.replace(chapter.CONFIG.train, steps=6, val_every=2)
    arch = ARConfig("gated", width=4, depth=2)
    model, history = chapter.train_model(
        chapter.CONFIG, arch, _TINY[:40], _TINY[40:], train_config=train_config
    )
    best = min(v for _, v in history.val)
    again, se = chapter.evaluate(model, _TINY[40:])
    assert abs(again - best) <= 1e-5 * best and se > 0  # the same computation


def test_digits_model_mixture_of_components():
    config = dataclasses.replace(
        chapter.CONFIG,
        model=ARConfig("made", width=16, depth=1),
        components=2,
        train=dataclasses.replace(chapter.CONFIG.train, steps=4, val_every=2),
    )
    model, histories = chapter.train_digits_model(config, _TINY[:40], _TINY[40:])
    assert isinstance(model, OrderMixture) and len(histories) == 2
    orders = [m.order for m in model.models]
    assert torch.equal(orders[0], torch.arange(64)) and not torch.equal(*orders)
    lp = torch.stack([m.log_prob(_TINY[40:]) for m in model.models])
    torch.testing.assert_close(
        model.log_prob(_TINY[40:]), torch.logsumexp(lp, 0) - math.log(2)
    )
    gen = torch.Generator().manual_seed(0)
    samples, seconds = chapter.sampling_seconds(model, 3, gen)
    assert samples.shape == (3, 64) and seconds > 0


def test_benchmark_quick_mode_runs():
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    bench = importlib.import_module("benchmarks.autoregressive")
    keys = set(importlib.import_module("benchmarks").RECORD_KEYS)
    records = bench.run(quick=True)
    names = {r["metric"] for r in records}
    assert {"nll_nats_per_image", "nll_stderr", "sampling_seconds_per_image"} <= names
    for r in records:
        assert set(r) == keys and r["suite"] == "autoregressive"
        assert math.isfinite(r["value"]) and r["seconds"] >= 0


# --- bad arguments (format: tests/bad_arguments.py) --------------------------------

_M = CategoricalMADE(3, 3, 4, 1)
_C = chapter.CONFIG
_NO_VAL = dataclasses.replace(_C.train, val_every=0)

BAD_ARGUMENTS = [
    BadArg(check_order, lambda: check_order([0, 0, 1], 3), "order"),
    BadArg(check_pixels, lambda: check_pixels(torch.zeros(2, 3) + 0.5, 3, 3), "x"),
    BadArg(
        AutoregressiveModel.log_prob, lambda: _M.log_prob(torch.full((2, 3), 3.0)), "x"
    ),
    BadArg(AutoregressiveModel.sample, lambda: _M.sample(0), "n"),
    BadArg(OrderMixture, lambda: OrderMixture([]), "models"),
    BadArg(OrderMixture.sample, lambda: OrderMixture([_M]).sample(-1), "n"),
    BadArg(nll_loss, lambda: nll_loss(_M, torch.zeros(0, 3)), "batch"),
    BadArg(exact_nll, lambda: exact_nll(_M, torch.zeros(1, 3)), "x"),
    BadArg(
        exact_nll, lambda: exact_nll(_M, torch.zeros(4, 3), batch_size=0), "batch_size"
    ),
    BadArg(check_order, lambda: check_order("abc", 3), "order"),
    BadArg(all_configurations, lambda: all_configurations(20, 17), "levels ** dim"),
    BadArg(all_configurations, lambda: all_configurations(0, 3), "dim"),
    BadArg(CategoricalMADE, lambda: CategoricalMADE(3, 1, 4, 1), "levels"),
    BadArg(
        CategoricalMADE, lambda: CategoricalMADE(3, 3, 4, 1, dropout=1.0), "dropout"
    ),
    BadArg(CategoricalMADE, lambda: CategoricalMADE(3, 3, 4, 1, order=[0, 1]), "order"),
    BadArg(GaussianMADE, lambda: GaussianMADE(3, 4, 1, clamp=0.0), "clamp"),
    BadArg(GaussianMADE, lambda: GaussianMADE(1, 4, 1), "dim"),
    BadArg(
        GaussianMADE.log_prob,
        lambda: GaussianMADE(3, 4, 1).log_prob(torch.zeros(2, 4)),
        "x",
    ),
    BadArg(GaussianMADE.sample, lambda: GaussianMADE(3, 4, 1).sample(0), "n"),
    BadArg(pixelcnn_mask, lambda: pixelcnn_mask(3, 3, "C"), "kind"),
    BadArg(pixelcnn_mask, lambda: pixelcnn_mask(4, 3, "A"), "kh"),
    BadArg(MaskedConv2d, lambda: MaskedConv2d(1, 1, (3, 2), "B"), "kw"),
    BadArg(PixelCNN, lambda: PixelCNN((8,), 17), "shape"),
    BadArg(PixelCNN, lambda: PixelCNN(first_kernel=4), "first_kernel"),
    BadArg(GatedPixelCNN, lambda: GatedPixelCNN(kernel=2), "kernel"),
    BadArg(GatedPixelCNN, lambda: GatedPixelCNN(channels=0), "channels"),
    BadArg(dependencies, lambda: dependencies(torch.nn.Linear(2, 2)), "model"),
    BadArg(dependencies, lambda: dependencies(_M, points=0), "points"),
    BadArg(receptive_field, lambda: receptive_field(_M, 3), "pixel"),
    BadArg(ARConfig, lambda: ARConfig("rnn"), "kind"),
    BadArg(ARConfig, lambda: ARConfig("gated", dropout=0.1), "dropout"),
    BadArg(ARConfig, lambda: ARConfig("made", width=0), "width"),
    BadArg(build_ar, lambda: build_ar("made"), "config"),
    BadArg(
        build_ar, lambda: build_ar(ARConfig("gated"), order=torch.arange(64)), "order"
    ),
    # the chapter
    BadArg(
        chapter.AutoregressiveConfig,
        lambda: chapter.AutoregressiveConfig(components=0),
        "components",
    ),
    BadArg(chapter.AutoregressiveConfig,
           lambda: chapter.AutoregressiveConfig(plain=ARConfig("gated")), "plain"),
    BadArg(chapter.AutoregressiveConfig,
           lambda: chapter.AutoregressiveConfig(train=_NO_VAL),
           "train"),
    BadArg(
        chapter.AutoregressiveConfig,
        lambda: chapter.AutoregressiveConfig(shape=(8,)),
        "shape",
    ),
    BadArg(chapter.build_model, lambda: chapter.build_model(_C, "gated", 0), "arch"),
    BadArg(chapter.train_model,
           lambda: chapter.train_model(_C, _C.model, _TINY[:, :10], _TINY), "train"),
    BadArg(chapter.train_digits_model,
           lambda: chapter.train_digits_model(_C, _TINY, _TINY * 2), "val"),
    BadArg(chapter.evaluate, lambda: chapter.evaluate(_M, torch.zeros(3)), "x"),
    BadArg(chapter.sampling_seconds,
           lambda: chapter.sampling_seconds(_M, 0, torch.Generator()), "n"),
    BadArg(
        chapter.receptive_fields, lambda: chapter.receptive_fields(_C, (8, 0)), "pixel"
    ),
    BadArg(chapter.total_probability,
           lambda: chapter.total_probability(torch.nn.Linear(1, 1)), "model"),
]
