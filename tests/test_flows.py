"""Mathematical checks of the flow layers (tutorial_lib.flows and friends), in float64."""

from __future__ import annotations

import math

import pytest
import torch

from tutorial_lib.chapters.flow_digits import DIGITS_FLOW, build_digits_flow
from tutorial_lib.flows import (
    FLOW_KINDS, ActNorm, AffineCoupling, Flow, FlowConfig, LogitTransform, MaskedAutoregressive, Permutation,
    SplineCoupling, build_flow, rq_spline, spline_params,
)
from tutorial_lib.metrics import discrete_nll

DIM = 4


def _perturb(module: torch.nn.Module, scale: float, seed: int) -> torch.nn.Module:
    """Move every parameter away from its (identity) initialisation."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return module


def _layers() -> dict[str, torch.nn.Module]:
    mask = torch.tensor([1, 0, 1, 0])
    return {
        "affine_coupling": AffineCoupling(DIM, mask, hidden=16),
        "spline_coupling": SplineCoupling(DIM, mask, hidden=16, bins=5, bound=2.0),
        "maf_affine": MaskedAutoregressive(DIM, hidden=16, kind="affine"),
        "maf_spline": MaskedAutoregressive(DIM, hidden=16, kind="spline", reverse=True, bins=5, bound=2.0),
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


def test_inverse_of_forward_is_identity(layer):
    name, module = layer
    x = _inputs(name)
    z, _ = module(x)
    err = (module.inverse(z) - x).abs().max().item()
    assert err < 1e-8, f"{name}: |inverse(forward(x)) - x| = {err:.2e}"


def test_logdet_matches_autograd_jacobian(layer):
    name, module = layer
    x = _inputs(name, n=16)
    _, logdet = module(x)
    jac = torch.stack([torch.autograd.functional.jacobian(lambda v: module(v[None])[0][0], xi) for xi in x])  # (N, D, D)
    sign, ref = torch.linalg.slogdet(jac)
    assert bool((sign != 0).all())
    err = (ref - logdet).abs().max().item()
    assert err < 1e-6, f"{name}: log-det error {err:.2e}"


def test_autoregressive_jacobian_is_triangular():
    torch.manual_seed(0)
    layer = _perturb(MaskedAutoregressive(DIM, hidden=16, kind="spline", bins=5), 0.2, 1).double()
    x = torch.randn(DIM, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: layer(v[None])[0][0], x)
    assert torch.allclose(jac, torch.tril(jac), atol=0), "z_i must depend only on x_<=i"
    assert bool((jac.diagonal() > 0).all())


def test_spline_is_monotone_and_inverts_on_and_off_the_interval():
    gen = torch.Generator().manual_seed(3)
    raw = 2 * torch.randn(200, 3 * 6 + 1, generator=gen, dtype=torch.float64)
    xs, ys, ds = spline_params(raw, 6, 3.0)
    assert torch.allclose(xs[:, 0], torch.full((200,), -3.0, dtype=torch.float64))
    assert torch.allclose(ys[:, -1], torch.full((200,), 3.0, dtype=torch.float64))
    grid = torch.linspace(-6, 6, 1201, dtype=torch.float64)
    y, logd = rq_spline(grid.expand(200, -1), xs[:, None].expand(-1, 1201, -1), ys[:, None].expand(-1, 1201, -1), ds[:, None].expand(-1, 1201, -1))
    assert bool((y.diff(dim=1) > 0).all()), "the spline must be strictly increasing"
    x_back, logd_inv = rq_spline(y, xs[:, None].expand(-1, 1201, -1), ys[:, None].expand(-1, 1201, -1), ds[:, None].expand(-1, 1201, -1), inverse=True)
    assert (x_back - grid).abs().max().item() < 1e-8
    assert (logd + logd_inv).abs().max().item() < 1e-8
    # zero parameters give the identity
    xs0, ys0, ds0 = spline_params(torch.zeros(1, 3 * 6 + 1, dtype=torch.float64), 6, 3.0)
    y0, l0 = rq_spline(grid[None], xs0.expand(1201, -1)[None], ys0.expand(1201, -1)[None], ds0.expand(1201, -1)[None])
    assert (y0 - grid).abs().max().item() < 1e-12 and l0.abs().max().item() < 1e-12


@pytest.mark.parametrize("kind", FLOW_KINDS)
def test_flow_density_integrates_to_one_in_2d(kind):
    torch.manual_seed(0)
    flow = _perturb(build_flow(FlowConfig(kind, layers=3, hidden=16, bins=6, bound=3.0), 2).double(), 0.1, 4)
    flow.eval()
    # midpoint rule on [-8, 8]^2 (h = 0.032); the flows stay near the identity, so the
    # mass outside is about that of N(0, I), < 1e-13, and the rule's error is O(h^2)
    side, n = 8.0, 500
    h = 2 * side / n
    g = -side + h * (torch.arange(n, dtype=torch.float64) + 0.5)
    grid = torch.cartesian_prod(g, g)
    with torch.no_grad():
        mass = torch.cat([flow.log_prob(b).exp() for b in grid.split(40_000)]).sum().item() * h * h
    print(f"{kind}: integral = {mass:.6f}")
    assert abs(mass - 1) < 1e-3, f"{kind}: density integrates to {mass}"


@pytest.mark.parametrize("kind", FLOW_KINDS)
def test_gradients_reach_every_parameter(kind):
    torch.manual_seed(0)
    flow = build_flow(FlowConfig(kind, layers=2, hidden=8, bins=4, actnorm=True), 3)
    flow.train()
    x = torch.randn(32, 3)
    flow.log_prob(x)  # ActNorm's data-dependent initialisation
    _perturb(flow, 0.1, 5)  # leave the zero-initialised last layers, so every weight gets a gradient
    loss = -flow.log_prob(x).mean()
    loss.backward()
    for name, p in flow.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"


def test_state_dict_round_trip(tmp_path):
    torch.manual_seed(0)
    flow = build_digits_flow(DIGITS_FLOW, dim=8)
    x = 17 * torch.rand(20, 8)
    flow.train()
    flow.log_prob(x)  # initialise ActNorm
    _perturb(flow, 0.05, 6)
    flow.eval()
    torch.save(flow.state_dict(), tmp_path / "flow.pt")
    twin = build_digits_flow(DIGITS_FLOW, dim=8)
    twin.load_state_dict(torch.load(tmp_path / "flow.pt", weights_only=True))
    twin.eval()
    assert torch.equal(flow.log_prob(x), twin.log_prob(x))
    gen_a, gen_b = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    assert torch.equal(flow.sample(5, gen_a), twin.sample(5, gen_b))


def test_flow_log_prob_is_base_plus_logdet():
    torch.manual_seed(0)
    flow = _perturb(build_flow(FlowConfig("spline", layers=2, hidden=8), 2).double(), 0.2, 7)
    x = torch.randn(10, 2, dtype=torch.float64)
    z, ld = flow(x)
    ref = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(1) + ld
    assert torch.allclose(flow.log_prob(x), ref, atol=1e-12)
    samples = flow.sample(7, torch.Generator().manual_seed(0))
    assert samples.shape == (7, 2) and samples.dtype == torch.float64


def test_discrete_nll_of_uniform_model_is_exact():
    """A flow whose density is uniform on the dequantised cube gives -log P(x) = D log L."""

    class Uniform(Flow):
        def log_prob(self, x):
            return torch.full((x.shape[0],), -x.shape[1] * math.log(17.0), dtype=torch.float64)

    flow = Uniform([], dim=3)
    x = torch.randint(0, 17, (50, 3)).float()
    nll, se = discrete_nll(flow, x, samples=2)
    assert abs(nll - 3 * math.log(17)) < 1e-12 and se < 1e-12


@pytest.mark.parametrize(
    "make",
    [
        lambda: AffineCoupling(3, torch.tensor([1, 1, 1])),  # nothing to transform
        lambda: AffineCoupling(3, torch.tensor([0, 0, 0])),  # nothing to condition on
        lambda: AffineCoupling(3, torch.tensor([1, 0])),  # wrong length
        lambda: SplineCoupling(2, torch.tensor([2, 0])),  # not a 0/1 mask
        lambda: SplineCoupling(2, torch.tensor([1, 0]), bins=1),  # too few bins
        lambda: SplineCoupling(2, torch.tensor([1, 0]), bound=0.0),
        lambda: MaskedAutoregressive(1),  # an autoregressive layer needs two features
        lambda: MaskedAutoregressive(3, kind="cubic"),
        lambda: Permutation([0, 0, 1]),
        lambda: ActNorm(0),
        lambda: LogitTransform(2, levels=17, alpha=0.7),
        lambda: FlowConfig("glow"),
        lambda: FlowConfig("spline", bins=1),
        lambda: build_flow(FlowConfig("realnvp"), 1),
    ],
)
def test_bad_arguments_raise_value_error(make):
    with pytest.raises(ValueError):
        make()


def test_wrong_input_dimension_raises():
    flow = build_flow(FlowConfig("spline", layers=2, hidden=8), 2)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        flow.log_prob(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="n must be"):
        flow.sample(0)


def test_benchmark_quick_configurations_run():
    """The benchmark suites' smallest configurations run and return well-formed records."""
    import importlib
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    bench = importlib.import_module("benchmarks.flows")
    keys = {"suite", "task", "model", "metric", "value", "lower_is_better", "reference", "reference_value", "seconds", "seeds"}
    for suite, run in bench.SUITES.items():
        records = run(quick=True)
        assert records, suite
        for r in records:
            assert set(r) == keys, (suite, set(r) ^ keys)
            assert r["suite"] == suite and math.isfinite(r["value"]) and r["seconds"] >= 0
    # a 20-step spline flow is already far better than the uniform-pixel model (64 ln 17 nats)
    digits = [r for r in records if r["metric"] == "nll_nats_per_image"]
    assert digits and digits[0]["value"] < 64 * math.log(17)
