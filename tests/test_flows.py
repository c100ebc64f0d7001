"""The flows part: layers against autograd and against independent references (zuko's
spline, torch.distributions), flow densities and samples, the dequantisation bound, the
chapters' recipes, and the bad-argument rows of tutorial_lib.flows and of the flow
chapters.

Every test is in float64 unless it runs a chapter's recipe, and every tolerance is
stated where it is used.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from bad_arguments import BadArg
from torch.distributions import (
    AffineTransform,
    Independent,
    Normal,
    TransformedDistribution,
)

from tutorial_lib.chapters import change_of_variables as cov
from tutorial_lib.chapters import flow_digits, flows_2d
from tutorial_lib.data import GaussianMixture2D, get_density
from tutorial_lib.flows import (
    divergence,
    nfe,
    ode_log_prob,
    odeint,
    FLOW_KINDS,
    ActNorm,
    AffineCoupling,
    Flow,
    FlowConfig,
    LogitTransform,
    MaskedAutoregressive,
    Permutation,
    SplineCoupling,
    Transform,
    alternating_masks,
    build_dequantized_flow,
    build_flow,
    check_dim,
    check_mask,
    nll_loss,
    rq_spline,
    spline_params,
)
from tutorial_lib.metrics import discrete_nll
from tutorial_lib.nn import MADE

DIM = 4


def _perturb(module: torch.nn.Module, scale: float, seed: int) -> torch.nn.Module:
    """Move every parameter away from its (identity) initialisation (the chapter's
    recipe, with a seeded generator)."""
    return cov.perturb(module, scale, torch.Generator().manual_seed(seed))


def _layers() -> dict[str, torch.nn.Module]:
    mask = torch.tensor([1, 0, 1, 0])
    return {
        "affine_coupling": AffineCoupling(DIM, mask, hidden=16),
        "spline_coupling": SplineCoupling(DIM, mask, hidden=16, bins=5, bound=2.0),
        "maf_affine": MaskedAutoregressive(DIM, hidden=16, kind="affine"),
        "maf_spline": MaskedAutoregressive(
            DIM, hidden=16, kind="spline", reverse=True, bins=5, bound=2.0
        ),
        "actnorm": ActNorm(DIM),
        "permutation": Permutation([2, 0, 3, 1]),
        "logit": LogitTransform(DIM, levels=17, alpha=0.05),
    }


@pytest.fixture(params=list(_layers()))
def layer(request):
    torch.manual_seed(0)
    module = _perturb(_layers()[request.param].double(), 0.2, seed=1)
    module.eval()  # ActNorm keeps its (perturbed) parameters
    return request.param, module


def _inputs(name: str, n: int = 64) -> torch.Tensor:
    gen = torch.Generator().manual_seed(2)
    if name == "logit":  # the logit preprocessing is defined on (0, levels)
        return 0.1 + 16.8 * torch.rand(n, DIM, generator=gen, dtype=torch.float64)
    x = 1.5 * torch.randn(n, DIM, generator=gen, dtype=torch.float64)
    x[:4] *= 3  # some points in the spline tails, outside [-B, B]
    return x


def _jacobians(module, x: torch.Tensor) -> torch.Tensor:
    def one(v):
        return module(v[None])[0][0]

    return torch.stack([torch.autograd.functional.jacobian(one, xi) for xi in x])


def test_inverse_and_logdet_against_autograd(layer):
    """The chapter's check_layer: inverse(forward(x)) = x and the layer's log-det equals
    slogdet of the autograd Jacobian, at points inside and outside the splines'
    interval."""
    name, module = layer
    inv_err, ld_err, _ = cov.check_layer(module, _inputs(name, n=32))
    # float64 through a few dozen operations: rounding near 1e-14; 1e-8 and 1e-6 leave
    # a margin while any wrong term would change the values by O(1)
    assert inv_err < 1e-8, f"{name}: |inverse(forward(x)) - x| = {inv_err:.2e}"
    assert ld_err < 1e-6, f"{name}: log-det error {ld_err:.2e}"


def test_check_layer_catches_a_wrong_logdet():
    """The check can fail: a layer whose log-det is off by a constant is caught."""

    class Wrong(ActNorm):
        def forward(self, x):
            z, logdet = super().forward(x)
            return z, logdet + 0.01

    x = _inputs("actnorm", n=8)
    assert cov.check_layer(Wrong(DIM).double().eval(), x)[1] > 0.009


def test_autoregressive_jacobian_is_triangular():
    torch.manual_seed(0)
    layer = MaskedAutoregressive(DIM, hidden=16, kind="spline", bins=5)
    layer = _perturb(layer, 0.2, 1).double()
    jac = _jacobians(layer, torch.randn(1, DIM, dtype=torch.float64))[0]
    assert torch.equal(jac, torch.tril(jac)), (
        "z_i must depend only on x_<=i (exact zeros)"
    )
    assert bool((jac.diagonal() > 0).all())


def _grid_spline(raw: torch.Tensor, bins: int, bound: float, grid: torch.Tensor):
    xs, ys, ds = spline_params(raw, bins, bound)  # (B, K + 1) each
    n = len(grid)
    knots = [t[:, None].expand(-1, n, -1) for t in (xs, ys, ds)]  # (B, n, K + 1)
    return knots, grid.expand(len(raw), -1)


def test_spline_is_monotone_and_inverts_on_and_off_the_interval():
    gen = torch.Generator().manual_seed(3)
    raw = 2 * torch.randn(200, 3 * 6 + 1, generator=gen, dtype=torch.float64)
    xs, ys, _ = spline_params(raw, 6, 3.0)
    assert torch.equal(xs[:, 0], torch.full((200,), -3.0, dtype=torch.float64))
    assert torch.allclose(ys[:, -1], torch.full((200,), 3.0, dtype=torch.float64))
    grid = torch.linspace(-6, 6, 1201, dtype=torch.float64)
    knots, x = _grid_spline(raw, 6, 3.0, grid)
    y, logd = rq_spline(x, *knots)
    assert bool((y.diff(dim=1) > 0).all()), "the spline must be strictly increasing"
    x_back, logd_inv = rq_spline(y, *knots, inverse=True)
    assert (x_back - x).abs().max().item() < 1e-8  # float64 root of a quadratic
    assert (logd + logd_inv).abs().max().item() < 1e-8
    # zero parameters give the identity, to rounding
    knots0, x0 = _grid_spline(
        torch.zeros(1, 3 * 6 + 1, dtype=torch.float64), 6, 3.0, grid
    )
    y0, l0 = rq_spline(x0, *knots0)
    assert (y0 - x0).abs().max().item() < 1e-12 and l0.abs().max().item() < 1e-12


def test_rq_spline_matches_zuko():
    """Our spline and zuko's MonotonicRQSTransform on the same knots. zuko fixes both
    end derivatives to 1 and is the identity outside [-B, B]; our end slopes are
    learned, so the knots are taken from zuko's transform, end slopes 1 included."""
    from zuko.transforms import MonotonicRQSTransform

    gen = torch.Generator().manual_seed(11)
    n, bins, bound = 500, 7, 2.5
    w = torch.randn(n, bins, generator=gen, dtype=torch.float64)
    h = torch.randn(n, bins, generator=gen, dtype=torch.float64)
    d = torch.randn(n, bins - 1, generator=gen, dtype=torch.float64)
    ref = MonotonicRQSTransform(w, h, d, bound=bound)
    xs, ys, ds = ref.horizontal, ref.vertical, ref.derivatives  # (n, K + 1) each
    assert torch.equal(ds[:, 0], torch.ones(n, dtype=torch.float64))
    x = 1.4 * bound * (2 * torch.rand(n, generator=gen, dtype=torch.float64) - 1)
    assert bool((x.abs() > bound).any()), "some points in the tails"
    y, logd = rq_spline(x, xs, ys, ds)
    y_ref, logd_ref = ref.call_and_ladj(x)
    # the same formula evaluated in float64 by two codes: agreement to 1e-10
    assert (y - y_ref).abs().max().item() < 1e-10
    assert (logd - logd_ref).abs().max().item() < 1e-10
    x_back, _ = rq_spline(y_ref, xs, ys, ds, inverse=True)
    assert (x_back - ref.inv(y_ref)).abs().max().item() < 1e-10


def test_affine_flow_matches_transformed_distribution():
    """Two ActNorm layers are the affine map x = z * e^{s} + b, twice: the flow's
    density is that of torch.distributions.TransformedDistribution with two
    AffineTransforms."""
    torch.manual_seed(0)
    a, b = _perturb(ActNorm(3).double(), 0.5, 1), _perturb(ActNorm(3).double(), 0.5, 2)
    flow = Flow([a, b], 3).eval()
    base = Independent(Normal(torch.zeros(3, dtype=torch.float64), 1.0), 1)
    # sampling runs b.inverse then a.inverse: x = a^{-1}(b^{-1}(z))
    steps = [
        AffineTransform(b.shift.detach(), b.log_scale.detach().exp(), event_dim=1),
        AffineTransform(a.shift.detach(), a.log_scale.detach().exp(), event_dim=1),
    ]
    ref = TransformedDistribution(base, steps)
    x = 2 * torch.randn(
        100, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64
    )
    with torch.no_grad():
        err = (flow.log_prob(x) - ref.log_prob(x)).abs().max().item()
    assert err < 1e-12, (
        f"log_prob differs by {err:.2e}"
    )  # exact formulas, rounding only


@pytest.mark.parametrize("kind", ["spline", "maf"])
def test_flow_samples_follow_its_own_density(kind):
    """Histogram of 100,000 samples (drawn with the inverse) against the bin masses of
    the flow's log_prob (Gauss-Legendre, 8 x 8 nodes per bin), on a 10 x 10 grid."""
    torch.manual_seed(0)
    config = FlowConfig(kind, layers=3, hidden=16, bins=6, bound=3.0)
    flow = _perturb(build_flow(config, 2).double(), 0.15, 4).eval()
    n, edges = 100_000, torch.linspace(-3, 3, 11, dtype=torch.float64)
    samples = flow.sample(n, torch.Generator().manual_seed(5))
    counts = torch.histogramdd(samples, bins=[edges, edges]).hist  # (10, 10)
    nodes, weights = (torch.as_tensor(v) for v in np.polynomial.legendre.leggauss(8))
    half = (edges[1] - edges[0]) / 2
    pts = ((edges[:-1] + half)[:, None] + half * nodes[None]).reshape(-1)  # (80,)
    wts = (half * weights).repeat(10)
    grid = torch.cartesian_prod(pts, pts)
    with torch.no_grad():
        dens = flow.log_prob(grid).exp().reshape(80, 80) * wts[:, None] * wts[None]
    mass = dens.reshape(10, 8, 10, 8).sum((1, 3))  # (10, 10)
    z = (counts - n * mass) / (n * mass * (1 - mass)).clamp_min(1e-12).sqrt()
    # 100 binomial counts: |z| > 5 has probability ~6e-5 for a correct sampler, while a
    # sampler that misses a layer shifts many bins by tens of standard errors
    assert z.abs().max().item() < 5, f"largest |z| = {z.abs().max().item():.1f}"
    assert abs(mass.sum().item() - counts.sum().item() / n) < 0.01


def test_actnorm_initialises_from_the_first_training_batch():
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(256, 3, generator=gen, dtype=torch.float64) * torch.tensor(
        [0.5, 2, 7]
    )
    x = x + torch.tensor([1.0, -3.0, 10.0])
    layer = ActNorm(3).double().train()
    z, logdet = layer(x)
    # the first batch is standardised: mean 0 and (unbiased) std 1, to float64 rounding
    assert z.mean(0).abs().max().item() < 1e-12
    assert (z.std(0) - 1).abs().max().item() < 1e-12
    assert torch.allclose(layer.shift, x.mean(0), atol=1e-12)
    assert torch.allclose(layer.log_scale, x.std(0).log(), atol=1e-12)
    assert torch.allclose(logdet, -x.std(0).log().sum().expand(256), atol=1e-12)
    # later batches, and eval mode, leave the parameters alone
    shift = layer.shift.detach().clone()
    layer(3 * x + 1)
    assert torch.equal(layer.shift, shift) and bool(layer.initialized)
    fresh = ActNorm(3).double().eval()
    fresh(x)
    assert not bool(fresh.initialized) and torch.equal(
        fresh.shift, torch.zeros(3).double()
    )


def test_made_is_autoregressive_in_a_permuted_order():
    dim, n_params = 5, 3
    order = torch.tensor([3, 0, 4, 1, 2])  # order[k] is the k-th feature
    position = torch.empty(dim, dtype=torch.long)
    position[order] = torch.arange(dim)
    torch.manual_seed(0)
    made = _perturb(
        MADE(dim, n_params, hidden=24, depth=2, order=order).double(), 0.3, 7
    )
    allowed = (
        position[None, :] < position[:, None]
    )  # allowed[i, j]: x_j may feed block i
    # connectivity through the binary masks: a path from input j to output block i
    masks = [m.mask for m in made.modules() if hasattr(m, "mask")]
    paths = masks[0]
    for m in masks[1:]:
        paths = m @ paths  # (out, in) counts of paths
    paths = paths.reshape(dim, n_params, dim).sum(1) > 0  # (block, input)
    assert torch.equal(paths, allowed)
    # and the function itself: zero derivative exactly where the order forbids it
    x = torch.randn(
        8, dim, generator=torch.Generator().manual_seed(8), dtype=torch.float64
    )
    jac = _jacobians(lambda v: (made(v).reshape(1, -1), None), x)  # (8, D * P, D)
    dep = jac.abs().reshape(8, dim, n_params, dim).amax((0, 2)) > 0  # (block, input)
    assert torch.equal(dep, allowed), "each block depends on exactly its predecessors"


def _cell_rule(levels: int, order: int = 24):
    """Gauss-Legendre nodes ``(L^2 * order^2, 2)`` and weights covering every unit cell
    ``x + [0, 1)^2`` of ``{0..L-1}^2``, with the cell index of each node."""
    nodes, weights = (
        torch.as_tensor(v) for v in np.polynomial.legendre.leggauss(order)
    )
    u, w = (nodes + 1) / 2, weights / 2  # on [0, 1]
    uu = torch.cartesian_prod(u, u)  # (order^2, 2)
    ww = torch.outer(w, w).reshape(-1)
    cells = torch.cartesian_prod(torch.arange(levels), torch.arange(levels)).double()
    return cells, (cells[:, None, :] + uu[None]), ww


def test_dequantisation_bound_is_above_the_exact_discrete_nll():
    """A logit layer and a spline flow on {0, 1, 2}^2: P(x) (the integral of q over the
    cell, by 24 x 24-node Gauss-Legendre) is a sub-probability (its total Z < 1), and
    -log(P/Z) <= -log P <= E_u[-log q(x + u)] for every cell."""
    torch.manual_seed(0)
    flow = build_dequantized_flow(
        FlowConfig("spline", layers=2, hidden=8, bins=4), 2, 3, 0.05
    )
    flow = _perturb(flow.double(), 0.3, 9).eval()
    cells, pts, ww = _cell_rule(3)  # (9, 2), (9, 576, 2), (576,)
    with torch.no_grad():
        log_q = flow.log_prob(pts.reshape(-1, 2)).reshape(9, -1)
    p = (log_q.exp() * ww).sum(
        1
    )  # P(x), the cell integral (the rule is exact to ~1e-10)
    bound = -(log_q * ww).sum(1)  # E_u[-log q(x + u)]
    z = p.sum().item()
    assert 0.5 < z < 1, f"total mass {z}: the logit box loses some, not most"
    assert bool((-torch.log(p / z) <= -torch.log(p)).all())
    gaps = bound + torch.log(p)  # Jensen's gap, > 0 unless q is constant on the cell
    assert gaps.min().item() > 1e-6, f"smallest Jensen gap {gaps.min().item():.2e}"
    # discrete_nll's Monte Carlo estimate of the bound agrees with the quadrature
    x = cells.repeat(200, 1)  # each cell 200 times
    mc, se = discrete_nll(flow, x, samples=4, seed=1)
    assert abs(mc - bound.mean().item()) < 4 * se + 1e-3


def test_discrete_nll_of_uniform_model_is_exact():
    """A model uniform on the dequantised cube gives -log P(x) = D log L exactly."""

    class Uniform(Flow):
        def log_prob(self, x):
            return torch.full(
                (x.shape[0],), -x.shape[1] * math.log(17.0), dtype=torch.float64
            )

    flow = Uniform([], dim=3)
    x = torch.randint(
        0, 17, (50, 3), generator=torch.Generator().manual_seed(0)
    ).float()
    nll, se = discrete_nll(flow, x, samples=2)
    assert abs(nll - 3 * math.log(17)) < 1e-12 and se < 1e-12


@pytest.mark.parametrize("kind", FLOW_KINDS)
def test_flow_density_integrates_to_one_in_2d(kind):
    torch.manual_seed(0)
    config = FlowConfig(kind, layers=3, hidden=16, bins=6, bound=3.0)
    flow = _perturb(build_flow(config, 2).double(), 0.1, 4).eval()
    # midpoint rule on [-8, 8]^2 (h = 0.032); the flows stay near the identity, so the
    # mass outside is about that of N(0, I), < 1e-13, and the rule's error is O(h^2)
    mass, _ = cov.midpoint_mass(flow.log_prob, 8.0, 500)
    assert abs(mass - 1) < 1e-3, f"{kind}: density integrates to {mass}"


@pytest.mark.parametrize("kind", FLOW_KINDS)
def test_gradients_reach_every_parameter(kind):
    torch.manual_seed(0)
    flow = build_flow(FlowConfig(kind, layers=2, hidden=8, bins=4, actnorm=True), 3)
    flow.train()
    x = torch.randn(32, 3)
    flow.log_prob(x)  # ActNorm's data-dependent initialisation
    _perturb(flow, 0.1, 5)  # leave the zero-initialised last layers
    nll_loss(flow, x).backward()
    for name, p in flow.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, (
            f"no gradient reaches {name}"
        )


def test_state_dict_round_trip(tmp_path):
    torch.manual_seed(0)
    flow = flow_digits.build_digits_flow(flow_digits.CONFIG, dim=8)
    x = 17 * torch.rand(20, 8)
    flow.train()
    flow.log_prob(x)  # initialise ActNorm
    _perturb(flow, 0.05, 6)
    flow.eval()
    torch.save(flow.state_dict(), tmp_path / "flow.pt")
    twin = flow_digits.build_digits_flow(flow_digits.CONFIG, dim=8)
    twin.load_state_dict(torch.load(tmp_path / "flow.pt", weights_only=True))
    twin.eval()
    assert torch.equal(flow.log_prob(x), twin.log_prob(x))
    gen_a, gen_b = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    assert torch.equal(flow.sample(5, gen_a), twin.sample(5, gen_b))


def test_lognormal_histogram_agrees_with_the_formula():
    """The chapter's 1-D check, smaller: 50,000 samples of e^X in 99 bins."""
    config = dataclasses.replace(cov.CONFIG, n_samples=50_000)
    check = cov.lognormal_histogram(config, torch.Generator().manual_seed(0))
    # 99 bins: a deviation above 4.5 standard errors has probability ~7e-4
    assert check.z_scores.max().item() < 4.5
    y = torch.linspace(0.1, 5, 50, dtype=torch.float64)
    ref = torch.distributions.LogNormal(0.0, 1.0).log_prob(y).exp()
    assert torch.allclose(cov.lognormal_density(y), ref, rtol=1e-12)


def test_flow_log_prob_is_base_plus_logdet():
    torch.manual_seed(0)
    flow = _perturb(
        build_flow(FlowConfig("spline", layers=2, hidden=8), 2).double(), 0.2, 7
    )
    x = torch.randn(10, 2, dtype=torch.float64)
    z, ld = flow(x)
    ref = Normal(0.0, 1.0).log_prob(z).sum(1) + ld
    assert torch.allclose(flow.log_prob(x), ref, atol=1e-12)


# --- the chapters' recipes ---------------------------------------------------------


def test_flows2d_training_recipe_closes_most_of_the_gap():
    """The chapter's recipe, shrunk to 150 steps on moons: the spline flow's gap (an
    estimate of KL(p || q)) falls far below that of its identity initialisation."""
    config = dataclasses.replace(flows_2d.CONFIG, datasets=("moons",), n_test=2_000)
    test = flows_2d.make_test_set(config, "moons")
    torch.manual_seed(0)
    start, _ = flows_2d.gap(build_flow(config.spline, 2).log_prob, test)
    flow, history = flows_2d.train_flow(config, "moons", "spline", steps=150)
    value, se = flows_2d.gap(flow.log_prob, test)
    assert len(history.loss) == 150
    assert value > -4 * se, (
        "a gap below -4 standard errors: the density is not normalised"
    )
    assert value < start / 4, (
        f"gap {value:.3f} after training, {start:.3f} at the start"
    )


def test_flows2d_test_sets_are_fixed_and_checkerboard_entropy_is_exact():
    config = flows_2d.CONFIG
    a, b = (
        flows_2d.make_test_set(config, "checkerboard"),
        flows_2d.make_test_set(config, "checkerboard"),
    )
    assert torch.equal(a.x, b.x) and len(a.x) == config.n_test
    h, se = a.entropy  # the checkerboard is uniform on 8 squares of area 4: H = log 32
    assert abs(h - math.log(32)) < 1e-6 and se < 1e-6


def test_off_mode_mass_against_monte_carlo_and_the_rayleigh_tail():
    d8 = get_density("8gaussians")
    exact = flows_2d.off_mode_mass(d8)
    n = 1_000_000
    mc = flows_2d.off_mode_fraction(d8.sample(n, torch.Generator().manual_seed(1)), d8)
    se = math.sqrt(exact * (1 - exact) / n)
    assert abs(mc - exact) < 4 * se, (
        f"exact {exact:.5f}, Monte Carlo {mc:.5f} ± {se:.5f}"
    )
    # neighbours take a share of each component's Rayleigh tail; far-apart ones do not
    assert exact < math.exp(-4.5) - 1e-3
    far = GaussianMixture2D(
        "far", torch.tensor([[0.0, 0.0], [100.0, 0.0]]), 1.0, (0, 1, 0, 1)
    )
    assert abs(flows_2d.off_mode_mass(far) - math.exp(-4.5)) < 1e-12


def test_circle_log_density_peaks_at_the_centres():
    d8 = get_density("8gaussians")
    angle, lp = flows_2d.circle_log_density(
        d8.log_prob, d8, n=721
    )  # step of 0.5 degree
    centres = torch.atan2(d8.means[:, 1], d8.means[:, 0]) % (2 * math.pi)
    peak = angle[lp.argmax()]
    assert (centres - peak).abs().min().item() < 2 * math.pi / 720 + 1e-9


def test_digits_flow_recipe_restores_the_best_validation_bound():
    digits_train = torch.randint(
        0, 17, (200, 64), generator=torch.Generator().manual_seed(0)
    )
    digits_val = torch.randint(
        0, 17, (60, 64), generator=torch.Generator().manual_seed(1)
    )
    train = dataclasses.replace(flow_digits.CONFIG.train, steps=20, val_every=5)
    config = dataclasses.replace(flow_digits.CONFIG, train=train)
    flow, history = flow_digits.train_digits_flow(
        config, digits_train.float(), digits_val.float()
    )
    best = min(v for _, v in history.val)
    # the restored parameters give the best validation bound again (same seed and draws)
    again, _ = discrete_nll(
        flow, digits_val.float(), config.val_samples, config.val_seed
    )
    assert abs(again - best) <= 1e-6 * abs(best), (again, best)  # same computation
    nll, se = flow_digits.evaluate(config, flow, digits_val.float(), samples=2)
    assert math.isfinite(nll) and se > 0


def test_benchmark_quick_configurations_run():
    """The benchmark suites' smallest configurations run; their records are valid."""
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    bench = importlib.import_module("benchmarks.flows")
    keys = set(importlib.import_module("benchmarks").RECORD_KEYS)
    for suite, run in bench.SUITES.items():
        records = run(quick=True)
        assert records, suite
        for r in records:
            assert set(r) == keys, (suite, set(r) ^ keys)
            assert (
                r["suite"] == suite and math.isfinite(r["value"]) and r["seconds"] >= 0
            )
    # the like-for-like zuko NSF and ours: same transforms, bins and hidden sizes
    ours = build_flow(flows_2d.CONFIG.spline, 2)
    peer = bench.zuko_nsf(flows_2d.CONFIG.spline)
    assert len(peer.flow.transform.transforms) == flows_2d.CONFIG.spline.layers
    print(
        f"parameters: ours {sum(p.numel() for p in ours.parameters()):,}, "
        f"zuko {sum(p.numel() for p in peer.parameters()):,}"
    )


# --- continuous flows: fixed-step solvers and the instantaneous change of variables ---

_A = torch.tensor([[-0.3, 0.8], [-0.5, 0.1]], dtype=torch.float64)


def _linear(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return x @ _A.T


@pytest.mark.parametrize("method, order", [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_odeint_converges_at_the_order_of_its_method(method: str, order: int) -> None:
    # A linear field has the exact flow x(1) = expm(A) x(0) (scipy's expm, independent).
    from scipy.linalg import expm

    x = torch.randn(6, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    exact = x @ torch.from_numpy(expm(_A.numpy())).T
    errs = [(odeint(_linear, x, 0.0, 1.0, n, method) - exact).abs().max().item()
            for n in (20, 40)]
    assert errs[0] / errs[1] == pytest.approx(2**order, rel=0.15)
    back = odeint(_linear, exact, 1.0, 0.0, 200, method)
    assert (back - x).abs().max().item() < 10.0 ** (-order)


def test_divergence_is_the_trace_of_the_jacobian() -> None:
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)
    ).double()

    def v(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return net(torch.cat([x, t.expand(x.shape[0], 1)], 1))

    x = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    t = torch.tensor(0.4, dtype=torch.float64)
    jac = torch.stack([torch.autograd.functional.jacobian(lambda r: v(t, r[None])[0], r)
                       for r in x])
    torch.testing.assert_close(divergence(v, t, x), jac.diagonal(dim1=1, dim2=2).sum(-1))


def test_ode_log_prob_of_a_linear_field_is_the_exact_gaussian_density() -> None:
    # x(0) ~ p, z = x(1) = expm(A) x(0) ~ N(0, I): p is the Gaussian N(0, (M^T M)^{-1})
    # with M = expm(A); its density comes from torch.distributions, not from the ODE.
    from scipy.linalg import expm

    m = torch.from_numpy(expm(_A.numpy()))
    cov = torch.linalg.inv(m.T @ m)
    truth = torch.distributions.MultivariateNormal(torch.zeros(2, dtype=torch.float64), cov)
    x = truth.sample((50,))
    std = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), 1.0)
    log_p, z = ode_log_prob(_linear, x, 0.0, 1.0, 40, lambda z: std.log_prob(z).sum(-1))
    torch.testing.assert_close(log_p, truth.log_prob(x), rtol=0, atol=1e-8)
    torch.testing.assert_close(z, x @ m.T, rtol=0, atol=1e-8)
    # The same density with time reversed: base at 0, data at 1.
    log_p2, _ = ode_log_prob(lambda t, y: -_linear(t, y), x, 1.0, 0.0, 40,
                             lambda z: std.log_prob(z).sum(-1))
    torch.testing.assert_close(log_p2, truth.log_prob(x), rtol=0, atol=1e-8)


def test_nfe_counts_velocity_evaluations() -> None:
    calls = []

    def v(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        return -x

    for method in ("euler", "midpoint", "rk4"):
        calls.clear()
        odeint(v, torch.zeros(2, 2), 0.0, 1.0, 7, method)
        assert len(calls) == nfe(method, 7)


# --- bad arguments (format: tests/bad_arguments.py) --------------------------------

_SPLINE = FlowConfig("spline", layers=2, hidden=8)
_TEST = flows_2d.make_test_set(dataclasses.replace(flows_2d.CONFIG, n_test=10), "moons")
_D8 = get_density("8gaussians")
_KNOTS = spline_params(torch.zeros(3, 13), 4, 2.0)

BAD_ARGUMENTS = [
    BadArg(check_dim, lambda: check_dim(0), "dim"),
    BadArg(Transform, lambda: Permutation([1, 0])(torch.zeros(3, 3)), "x"),
    BadArg(Permutation, lambda: Permutation([0, 0, 1]), "perm"),
    BadArg(ActNorm, lambda: ActNorm(0), "dim"),
    BadArg(ActNorm.inverse, lambda: ActNorm(2).inverse(torch.zeros(3, 3)), "z"),
    BadArg(Flow, lambda: Flow([ActNorm(3)], 2), "layers"),
    BadArg(Flow.forward, lambda: build_flow(_SPLINE, 2)(torch.zeros(5, 3)), "x"),
    BadArg(Flow.log_prob, lambda: build_flow(_SPLINE, 2).log_prob(torch.zeros(5)), "x"),
    BadArg(
        Flow.inverse, lambda: build_flow(_SPLINE, 2).inverse(torch.zeros(5, 3)), "z"
    ),
    BadArg(Flow.sample, lambda: build_flow(_SPLINE, 2).sample(0), "n"),
    BadArg(
        nll_loss, lambda: nll_loss(build_flow(_SPLINE, 2), torch.zeros(0, 2)), "batch"
    ),
    BadArg(AffineCoupling, lambda: AffineCoupling(3, torch.tensor([1, 1, 1])), "mask"),
    BadArg(
        AffineCoupling,
        lambda: AffineCoupling(2, torch.tensor([1, 0]), clamp=0),
        "clamp",
    ),
    BadArg(
        SplineCoupling, lambda: SplineCoupling(2, torch.tensor([1, 0]), bins=1), "bins"
    ),
    BadArg(
        SplineCoupling,
        lambda: SplineCoupling(2, torch.tensor([1, 0]), bound=0.0),
        "bound",
    ),
    BadArg(alternating_masks, lambda: alternating_masks(1, 2), "dim"),
    BadArg(alternating_masks, lambda: alternating_masks(2, 0), "n"),
    BadArg(check_mask, lambda: check_mask([2, 0], 2), "mask"),
    BadArg(spline_params, lambda: spline_params(torch.zeros(2, 13), 1, 2.0), "bins"),
    BadArg(spline_params, lambda: spline_params(torch.zeros(2, 12), 4, 2.0), "raw"),
    BadArg(rq_spline, lambda: rq_spline(torch.zeros(4), *_KNOTS), "x"),
    BadArg(
        rq_spline,
        lambda: rq_spline(torch.zeros(3), _KNOTS[0], _KNOTS[1][:, :3], _KNOTS[2]),
        "ys",
    ),
    BadArg(MaskedAutoregressive, lambda: MaskedAutoregressive(3, kind="cubic"), "kind"),
    BadArg(MaskedAutoregressive, lambda: MaskedAutoregressive(3, bound=0.0), "bound"),
    BadArg(MaskedAutoregressive, lambda: MaskedAutoregressive(1), "dim"),
    BadArg(FlowConfig, lambda: FlowConfig("glow"), "kind"),
    BadArg(FlowConfig, lambda: FlowConfig("spline", bins=1), "bins"),
    BadArg(FlowConfig, lambda: FlowConfig("spline", layers=0), "layers"),
    BadArg(build_flow, lambda: build_flow(FlowConfig("realnvp"), 1), "dim"),
    BadArg(build_flow, lambda: build_flow("spline", 2), "config"),
    BadArg(LogitTransform, lambda: LogitTransform(2, levels=17, alpha=0.7), "alpha"),
    BadArg(LogitTransform, lambda: LogitTransform(2, levels=1), "levels"),
    BadArg(
        LogitTransform.forward, lambda: LogitTransform(2, 17)(torch.zeros(3, 3)), "v"
    ),
    BadArg(
        build_dequantized_flow,
        lambda: build_dequantized_flow(_SPLINE, 2, 1, 0.05),
        "levels",
    ),
    # the flows_2d chapter
    BadArg(
        flows_2d.Flows2DConfig,
        lambda: flows_2d.Flows2DConfig(datasets=("swiss",)),
        "datasets",
    ),
    BadArg(
        flows_2d.Flows2DConfig,
        lambda: flows_2d.Flows2DConfig(spline=FlowConfig("maf")),
        "spline",
    ),
    BadArg(flows_2d.Flows2DConfig, lambda: flows_2d.Flows2DConfig(n_test=1), "n_test"),
    BadArg(
        flows_2d.Flows2DConfig,
        lambda: flows_2d.Flows2DConfig(long_steps=0),
        "long_steps",
    ),
    BadArg(
        flows_2d.TestSet,
        lambda: flows_2d.TestSet(_D8, _TEST.x, _TEST.log_p[:3]),
        "log_p",
    ),
    BadArg(
        flows_2d.make_test_set,
        lambda: flows_2d.make_test_set(flows_2d.CONFIG, "ring"),
        "dataset",
    ),
    BadArg(
        flows_2d.train_flow,
        lambda: flows_2d.train_flow(flows_2d.CONFIG, "moons", "glow"),
        "model",
    ),
    BadArg(
        flows_2d.gap,
        lambda: flows_2d.gap(_D8.log_prob, _TEST, batch_size=0),
        "batch_size",
    ),
    BadArg(
        flows_2d.off_mode_fraction,
        lambda: flows_2d.off_mode_fraction(torch.zeros(4, 3), _D8),
        "points",
    ),
    BadArg(
        flows_2d.off_mode_fraction,
        lambda: flows_2d.off_mode_fraction(torch.zeros(4, 2), get_density("moons")),
        "density",
    ),
    BadArg(flows_2d.off_mode_mass, lambda: flows_2d.off_mode_mass(_D8, k=4.0), "k"),
    BadArg(
        flows_2d.circle_log_density,
        lambda: flows_2d.circle_log_density(_D8.log_prob, _D8, n=1),
        "n",
    ),
    # the change_of_variables chapter
    BadArg(
        cov.ChangeOfVariablesConfig, lambda: cov.ChangeOfVariablesConfig(dim=3), "dim"
    ),
    BadArg(
        cov.ChangeOfVariablesConfig,
        lambda: cov.ChangeOfVariablesConfig(hist_range=(0.0, 1.0)),
        "hist_range",
    ),
    BadArg(cov.lognormal_density, lambda: cov.lognormal_density(-torch.ones(1)), "y"),
    BadArg(
        cov.HistogramCheck,
        lambda: cov.HistogramCheck(
            torch.zeros(3), 1.0, torch.zeros(2), torch.zeros(3), torch.ones(3)
        ),
        "hist",
    ),
    BadArg(
        cov.lognormal_histogram,
        lambda: cov.lognormal_histogram(cov.CONFIG, 0),
        "generator",
    ),
    BadArg(cov.example_layers, lambda: cov.example_layers(flows_2d.CONFIG), "config"),
    BadArg(
        cov.perturb, lambda: cov.perturb(ActNorm(2), 0.0, torch.Generator()), "scale"
    ),
    BadArg(
        cov.check_layer, lambda: cov.check_layer(ActNorm(2), torch.zeros(3, 3)), "x"
    ),
    BadArg(cov.midpoint_mass, lambda: cov.midpoint_mass(_D8.log_prob, 1.0, 0), "cells"),
    # the flow_digits chapter
    BadArg(
        flow_digits.FlowDigitsConfig,
        lambda: flow_digits.FlowDigitsConfig(alpha=0.5),
        "alpha",
    ),
    BadArg(
        flow_digits.FlowDigitsConfig,
        lambda: flow_digits.FlowDigitsConfig(test_samples=0),
        "test_samples",
    ),
    BadArg(
        flow_digits.FlowDigitsConfig,
        lambda: flow_digits.FlowDigitsConfig(
            train=dataclasses.replace(flow_digits.CONFIG.train, val_every=0)
        ),
        "train.val_every",
    ),
    BadArg(
        flow_digits.build_digits_flow,
        lambda: flow_digits.build_digits_flow(flow_digits.CONFIG, "glow"),
        "model",
    ),
    BadArg(
        flow_digits.evaluate,
        lambda: flow_digits.evaluate(
            flow_digits.CONFIG, build_flow(_SPLINE, 2), torch.zeros(3, 2), samples=0
        ),
        "samples",
    ),
    BadArg(
        flow_digits.train_digits_flow,
        lambda: flow_digits.train_digits_flow(
            flow_digits.CONFIG, torch.zeros(10, 64), torch.zeros(10, 63)
        ),
        "train",
    ),
    BadArg(nfe, lambda: nfe("rk5", 10), "method"),
    BadArg(odeint, lambda: odeint(_linear, torch.zeros(3, 2), 0.0, 1.0, 0), "steps"),
    BadArg(odeint, lambda: odeint(_linear, torch.zeros(3), 0.0, 1.0, 4), "x"),
    BadArg(
        divergence,
        lambda: divergence(lambda t, x: x[:, :1], torch.tensor(0.0), torch.zeros(3, 2)),
        "velocity",
    ),
    BadArg(
        ode_log_prob,
        lambda: ode_log_prob(_linear, torch.zeros(3, 2), 1.0, 1.0, 4, lambda z: z[:, 0]),
        "t_data",
    ),
]
