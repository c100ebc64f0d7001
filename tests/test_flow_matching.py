"""Flow matching: the exact marginal velocity against Tweedie's score form, the
flow-matching minimiser for Gaussian data against the closed-form field (least squares),
the conditional and marginal losses differing by a constant, path marginals against a
simulated ODE, the ODE likelihood of the exact field against the true density and of a
linear field against the exact Gaussian, the chapter's recipes, the benchmark's quick
mode, and the bad-argument rows of tutorial_lib.flow_matching and of the chapter.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import sys
from pathlib import Path

import pytest
import torch
from bad_arguments import BadArg
from torch.distributions import MultivariateNormal

from tutorial_lib.chapters import flow_matching as chapter
from tutorial_lib.data import get_density, load_digits_split
from tutorial_lib.flow_matching import (
    CondOTPath,
    ContinuousFlow,
    FMConfig,
    GaussianPath,
    ConvVelocityField,
    VelocityField,
    VPPath,
    build_path,
    cfm_loss,
    mixture_log_prob,
    mixture_velocity,
    sample_times,
    standard_normal_log_prob,
    train_velocity,
    velocity_field,
)
from tutorial_lib.flows import divergence, ode_log_prob, odeint
from tutorial_lib.metrics.digit_features import DigitClassifier
from tutorial_lib.train import TrainConfig

PATHS = [CondOTPath(0.0), CondOTPath(0.01), VPPath()]
IDS = ["cond-ot", "cond-ot-smin", "vp"]


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_path_endpoints_and_derivatives(path: GaussianPath):
    t = torch.linspace(0.01, 0.99, 7, dtype=torch.float64)
    h = 1e-6  # central differences: error O(h^2) ~ 1e-12 times the third derivative
    for f, df in ((path.alpha, path.d_alpha), (path.sigma, path.d_sigma)):
        numeric = (f(t + h) - f(t - h)) / (2 * h)
        torch.testing.assert_close(df(t), numeric, rtol=1e-6, atol=1e-7)
    one = torch.tensor(1.0, dtype=torch.float64)
    assert path.alpha(one) == 1.0
    if isinstance(path, CondOTPath):
        zero = torch.tensor(0.0, dtype=torch.float64)
        assert path.alpha(zero) == 0 and path.sigma(zero) == 1
        assert path.sigma(one) == pytest.approx(path.sigma_min)


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_mixture_velocity_is_the_score_form(path: GaussianPath):
    """Two routes to v_t: the posterior expectation of u_t (mixture_velocity) and
    Tweedie's formula with the score of log p_t taken by autograd."""
    density = get_density("8gaussians")
    x = 2 * torch.randn(64, 2, generator=torch.Generator().manual_seed(0)).double()
    for t in (0.05, 0.5, 0.95):
        xg = x.clone().requires_grad_(True)
        log_p = mixture_log_prob(path, t, xg, density.means, density.std)
        (score,) = torch.autograd.grad(log_p.sum(), xg)
        torch.testing.assert_close(
            mixture_velocity(path, t, x, density.means, density.std),
            path.velocity_from_score(x, t, score),
            rtol=1e-9,
            atol=1e-9,
        )


def test_vp_path_velocity_is_the_probability_flow_ode():
    """For the VP path the marginal velocity is Song et al.'s probability-flow drift
    in reversed time, beta(s)/2 (x + score) with s = 1 - t, written independently."""
    path = VPPath(0.1, 20.0)
    means = torch.tensor([[1.0, -0.5], [-1.5, 0.5]], dtype=torch.float64)
    x = torch.randn(32, 2, generator=torch.Generator().manual_seed(1)).double()
    for t in (0.2, 0.7):
        s = 1 - t
        beta = 0.1 + (20.0 - 0.1) * s
        xg = x.clone().requires_grad_(True)
        (score,) = torch.autograd.grad(
            mixture_log_prob(path, t, xg, means, 0.3).sum(), xg
        )
        pf_ode = 0.5 * beta * (x + score)
        torch.testing.assert_close(
            mixture_velocity(path, t, x, means, 0.3), pf_ode, rtol=1e-9, atol=1e-9
        )


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_flow_matching_minimiser_for_gaussian_data_is_the_closed_form(path):
    """Data N(m, s^2 I): the marginal field is affine in x, so the least-squares fit of
    u_t on (x_t, 1) over samples is the flow-matching minimiser within the affine
    family, which contains v_t. Compare it with the closed form
    v_t(x) = a' m + g (x - a m), g = (a a' s^2 + sig sig')/(a^2 s^2 + sig^2),
    within five standard errors of each regression coefficient."""
    gen = torch.Generator().manual_seed(2)
    m, s, n = torch.tensor([1.5, -0.5], dtype=torch.float64), 0.7, 200_000
    for t in (0.25, 0.6, 0.9):
        x1 = m + s * torch.randn(n, 2, generator=gen, dtype=torch.float64)
        x0 = torch.randn(n, 2, generator=gen, dtype=torch.float64)
        xt = path.sample(x1, t, x0)
        u = path.conditional_velocity(x1, t, x0)
        design = torch.cat([xt, torch.ones(n, 1, dtype=torch.float64)], 1)
        coef = torch.linalg.lstsq(design, u).solution  # (3, 2): slopes, intercept
        tt = torch.tensor(t, dtype=torch.float64)
        a, da = path.alpha(tt), path.d_alpha(tt)
        sig, dsig = path.sigma(tt), path.d_sigma(tt)
        gain = (a * da * s**2 + sig * dsig) / (a**2 * s**2 + sig**2)
        exact = torch.cat([gain * torch.eye(2, dtype=torch.float64),
                           (da * m - gain * a * m)[None]])
        # the regression's standard errors: sqrt(diag((X^T X)^-1) * residual variance)
        resid_var = (u - design @ coef).var(0)  # (2,)
        se = torch.sqrt(torch.linalg.inv(design.T @ design).diag()[:, None] * resid_var)
        assert ((coef - exact).abs() < 5 * se).all(), (coef - exact) / se


def test_cfm_and_marginal_losses_differ_by_a_constant():
    """Theorem: L_CFM(theta) = L_FM(theta) + C. On the same samples, the difference
    for two unrelated networks agrees within Monte Carlo error, while the losses
    themselves differ by far more."""
    density = get_density("8gaussians")
    path = CondOTPath(0.0)
    n = 100_000
    gen = torch.Generator().manual_seed(3)
    x1 = density.sample(n, gen).double()
    x0 = torch.randn(n, 2, generator=gen, dtype=torch.float64)
    t = torch.rand(n, generator=gen, dtype=torch.float64)
    xt = path.sample(x1, t, x0)
    u = path.conditional_velocity(x1, t, x0)
    exact = mixture_velocity(path, t, xt, density.means, density.std)
    diffs, cfms = [], []
    for seed in (0, 1):
        torch.manual_seed(seed)
        net = VelocityField(2, 32, 2).double()
        with torch.no_grad():
            v = 5 * net(t, xt) + seed * exact  # two very different fields
        per = (v - u).pow(2).sum(1) - (v - exact).pow(2).sum(1)
        diffs.append(per)
        cfms.append((v - u).pow(2).sum(1).mean().item())
    gap = (diffs[0] - diffs[1]).mean().item()
    se = (diffs[0] - diffs[1]).std().item() / math.sqrt(n)
    assert abs(gap) < 4 * se  # the same constant, within 4 standard errors
    assert abs(cfms[0] - cfms[1]) > 100 * se  # while the losses differ a lot
    # and the constant is E|u|^2 - E|v_t|^2
    constant = (u.pow(2).sum(1) - exact.pow(2).sum(1)).mean().item()
    se0 = diffs[0].std().item() / math.sqrt(n)
    assert abs(diffs[0].mean().item() - constant) < 4 * se0 + 4 * se


@pytest.mark.parametrize("path", [CondOTPath(0.0), VPPath()], ids=["cond-ot", "vp"])
def test_path_marginals_against_simulation(path: GaussianPath):
    """Push samples of p_0 through the ODE of the exact field of a two-component
    mixture and compare the mean and covariance at time t with those of
    p_t = mixture of N(a m_k, (a^2 s^2 + sig^2) I)."""
    means = torch.tensor([[2.0, 0.0], [-1.0, 1.0]], dtype=torch.float64)
    s, n = 0.4, 40_000
    gen = torch.Generator().manual_seed(4)
    zero = torch.tensor(0.0, dtype=torch.float64)
    a0, s0 = path.alpha(zero), path.sigma(zero)
    k = torch.randint(0, 2, (n,), generator=gen)
    scale0 = torch.sqrt(a0**2 * s**2 + s0**2)
    x = a0 * means[k] + scale0 * torch.randn(n, 2, generator=gen, dtype=torch.float64)
    vel = lambda tt, y: mixture_velocity(path, tt, y, means, s)  # noqa: E731
    for t0, t1 in ((0.0, 0.5), (0.5, 0.9)):
        x = odeint(vel, x, t0, t1, steps=40)
        tt = torch.tensor(t1, dtype=torch.float64)
        a, sig = path.alpha(tt), path.sigma(tt)
        mean = a * means.mean(0)
        centred = a * (means - means.mean(0))
        cov = centred.T @ centred / 2 + (a**2 * s**2 + sig**2) * torch.eye(2)
        # standard errors ~ sqrt(var / n) ~ 0.01; 0.04 is 4 of them
        torch.testing.assert_close(x.mean(0), mean, rtol=0, atol=0.04)
        torch.testing.assert_close(torch.cov(x.T), cov, rtol=0, atol=0.06)


def test_ode_likelihood_of_the_exact_field_is_the_density():
    """The instantaneous change of variables on a nonlinear field: the exact marginal
    field of 8gaussians (cond-OT, sigma_min = 0, p_0 = N(0, I) exactly) gives back the
    true log-density."""
    density = get_density("8gaussians")
    path = CondOTPath(0.0)
    x = density.sample(500, torch.Generator().manual_seed(5)).double()
    def vel(t, y):
        return mixture_velocity(path, t, y, density.means, density.std)

    log_p, _ = ode_log_prob(vel, x, 1.0, 0.0, 50, standard_normal_log_prob)
    # RK4 with 50 steps: measured error ~ 2e-5 nats at worst; 1e-3 leaves room
    torch.testing.assert_close(log_p, density.log_prob(x), rtol=0, atol=1e-3)


class _Linear(torch.nn.Module):
    def __init__(self, a: torch.Tensor):
        super().__init__()
        self.a = torch.nn.Parameter(a)

    def forward(self, t, x):
        return x @ self.a.T


def test_continuous_flow_of_a_linear_field_is_the_exact_gaussian():
    """v(x) = A x maps N(0, I) at t = 0 to N(0, e^A e^{A^T}) at t = 1."""
    a = torch.tensor([[0.3, -0.8], [0.5, -0.2]], dtype=torch.float64)
    flow = ContinuousFlow(_Linear(a), 2, "rk4", 40)
    e = torch.linalg.matrix_exp(a)
    truth = MultivariateNormal(torch.zeros(2, dtype=torch.float64), e @ e.T)
    x = torch.randn(100, 2, generator=torch.Generator().manual_seed(6)).double()
    # RK4 global error ~ (1/40)^4 ~ 4e-7 on a field of norm ~ 1
    torch.testing.assert_close(flow.log_prob(x), truth.log_prob(x), rtol=0, atol=1e-6)
    samples = flow.sample(20_000, torch.Generator().manual_seed(7))
    torch.testing.assert_close(
        torch.cov(samples.T.double()), e @ e.T, rtol=0, atol=0.06
    )  # sample covariance of 2e4 points: ~ 4 standard errors


def test_velocity_field_accepts_one_time_or_one_per_row():
    torch.manual_seed(0)
    net = VelocityField(3, 16, 2)
    x = torch.randn(5, 3)
    torch.testing.assert_close(net(torch.tensor(0.3), x), net(torch.full((5,), 0.3), x))
    torch.testing.assert_close(net(0.3, x), net(torch.full((5, 1), 0.3), x))


@pytest.mark.parametrize(
    "net",
    [
        lambda: VelocityField(2, 8, 2, space_freqs=3),
        lambda: ConvVelocityField(16, 4, 2),
    ],
    ids=["mlp-fourier", "conv"],
)
def test_velocity_networks_keep_rows_apart_and_divergence_is_exact(net):
    """Each row's velocity depends on that row alone (the exact divergence by one
    backward pass per coordinate relies on it), one time equals a time per row, and
    the divergence is the trace of the autograd Jacobian."""
    torch.manual_seed(0)
    net = net().double()
    x = torch.randn(4, net.dim, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda y: net(0.3, y), x)  # (4, d, 4, d)
    for i in range(4):
        for j in range(4):
            if i != j:
                assert jac[i, :, j].abs().max() == 0
    torch.testing.assert_close(net(0.3, x), net(torch.full((4,), 0.3), x))
    traces = torch.stack([jac[i, :, i].trace() for i in range(4)])
    torch.testing.assert_close(divergence(net, torch.tensor(0.3), x), traces)


def test_fourier_features_and_the_network_factory():
    """space_freqs = 0 is the plain MLP (same parameters drawn from the same seed);
    K octaves widen the input by 2 K features per coordinate, at the frequencies
    space_base * 2^j; velocity_field builds the network that config.net names."""
    torch.manual_seed(0)
    plain = VelocityField(2, 8, 2)
    torch.manual_seed(0)
    zero = VelocityField(2, 8, 2, space_freqs=0)
    for a, b in zip(plain.parameters(), zero.parameters()):
        torch.testing.assert_close(a, b)
    wide = VelocityField(2, 8, 2, freqs=3, space_freqs=4, space_base=0.5)
    assert wide.net[0].in_features == 2 * (1 + 2 * 4) + 2 * 3
    torch.testing.assert_close(wide.space, torch.tensor([0.5, 1.0, 2.0, 4.0]))
    conv = velocity_field(FMConfig(net="conv", hidden=4, depth=2), 64)
    assert isinstance(conv, ConvVelocityField) and len(conv.blocks) == 2
    assert conv(0.5, torch.zeros(3, 64)).shape == (3, 64)
    mlp_net = velocity_field(FMConfig(hidden=4, space_freqs=2), 2)
    assert isinstance(mlp_net, VelocityField) and mlp_net.space.numel() == 2


def test_cfm_loss_is_the_written_out_regression():
    torch.manual_seed(0)
    net, path = VelocityField(2, 16, 2), CondOTPath(0.01)
    x1, x0, t = torch.randn(8, 2), torch.randn(8, 2), torch.rand(8)
    xt = t[:, None] * x1 + (1 - 0.99 * t[:, None]) * x0
    target = x1 - 0.99 * x0
    manual = (net(t, xt) - target).pow(2).sum(1).mean()
    torch.testing.assert_close(cfm_loss(net, x1, path, t, x0), manual)


def test_sample_times_logit_normal_and_draw_order():
    """Logit-normal times: logit(t) has the requested mean and standard deviation
    (within 5 standard errors of 20,000 draws); uniform times by default; cfm_loss
    draws t first, then x0, from the global generator."""
    torch.manual_seed(0)
    t = sample_times(20_000, (1.0, 0.5), dtype=torch.float64)
    logit = torch.log(t) - torch.log1p(-t)
    assert abs(logit.mean().item() - 1.0) < 5 * 0.5 / math.sqrt(20_000)
    assert abs(logit.std().item() - 0.5) < 5 * 0.5 / math.sqrt(2 * 20_000)
    u = sample_times(20_000)
    assert u.dtype == torch.float32 and 0 <= u.min() and u.max() <= 1
    assert abs(u.mean().item() - 0.5) < 5 * math.sqrt(1 / 12 / 20_000)
    net, path, x1 = VelocityField(2, 16, 2), CondOTPath(0.0), torch.randn(8, 2)
    torch.manual_seed(1)
    drawn = cfm_loss(net, x1, path, times=(0.5, 1.0))
    torch.manual_seed(1)
    t = torch.sigmoid(0.5 + torch.randn(8))
    x0 = torch.randn(8, 2)
    torch.testing.assert_close(drawn, cfm_loss(net, x1, path, t, x0))


def test_train_velocity_learns_a_gaussian_field():
    """A few hundred steps on 1-D Gaussian data bring the network within reach of the
    exact field (a smoke test of the loop; the exact minimiser is tested above)."""
    torch.manual_seed(0)
    net, path = VelocityField(1, 32, 2), CondOTPath(0.0)
    m = torch.tensor([[2.0]])
    gen = torch.Generator().manual_seed(0)
    data = 2.0 + 0.5 * torch.randn(4000, 1, generator=gen)
    config = TrainConfig(
        steps=300, batch_size=256, lr=1e-2, cosine=True, progress=False
    )
    train_velocity(net, path, data, config)
    x = torch.linspace(-1, 3, 9)[:, None]
    with torch.no_grad():
        err = (net(0.5, x) - mixture_velocity(path, 0.5, x, m, 0.5)).abs().max()
    assert err < 0.3


def test_chapter_2d_recipe_runs_and_scores():
    config = dataclasses.replace(
        chapter.CONFIG,
        datasets=("8gaussians",),
        n_test=100,
        train2d=dataclasses.replace(chapter.CONFIG.train2d, steps=5),
        model2d=dataclasses.replace(chapter.CONFIG.model2d, steps=3),
    )
    flow, history = chapter.train_2d(config, "8gaussians")
    assert len(history.loss) == 5 and flow.nfe == 12
    test = chapter.make_test_set(config, "8gaussians")
    from tutorial_lib.chapters.flows_2d import gap

    value, se = gap(flow.log_prob, test)
    assert math.isfinite(value) and value > 0 and se > 0


def test_chapter_digits_recipes_run():
    split = load_digits_split()
    config = dataclasses.replace(
        chapter.CONFIG,
        digits=dataclasses.replace(chapter.CONFIG.digits, hidden=16, steps=2),
        digits_train=dataclasses.replace(chapter.CONFIG.digits_train, steps=3),
        solvers=(("euler", 2), ("midpoint", 1)),
        sweep_images=5,
        n_samples=40,
    )
    flow, _ = chapter.train_digits(config, split)
    nll, se = chapter.evaluate_digits(config, flow, split.test[:6])
    assert math.isfinite(nll) and nll > 0 and se > 0
    pixels, seconds = chapter.sample_digits(flow, 3, 0)
    assert pixels.shape == (3, 64) and seconds > 0
    assert pixels.min() >= 0 and pixels.max() <= 16
    torch.manual_seed(0)
    rows = chapter.solver_sweep(config, flow, split, DigitClassifier().eval())
    assert [r["nfe"] for r in rows] == [2, 2]
    assert all(math.isfinite(r["fd"]) and r["seconds_per_image"] > 0 for r in rows)


def test_benchmark_quick_mode_runs():
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    bench = importlib.import_module("benchmarks.flow_matching")
    keys = set(importlib.import_module("benchmarks").RECORD_KEYS)
    records = bench.run(quick=True)
    names = {r["metric"] for r in records}
    assert {"test_nll_minus_entropy", "nll_nats_per_image", "nfe"} <= names
    assert {"sampling_seconds_per_image"} <= names
    assert any(r["model"].startswith("zuko") for r in records)
    for r in records:
        assert set(r) == keys and r["suite"] == "flow_matching"
        assert math.isfinite(r["value"]) and r["seconds"] >= 0


# --- bad arguments (format: tests/bad_arguments.py) --------------------------------

_P = CondOTPath()
_X = torch.zeros(3, 2)
_C = chapter.CONFIG
_V = VelocityField(2, 4, 1)
_CV = ConvVelocityField(16, 2, 1)
_IMG = torch.zeros(3, 16)
_F = ContinuousFlow(_V, 2, "euler", 1)
_SPLIT = load_digits_split()

BAD_ARGUMENTS = [
    BadArg(GaussianPath.sample, lambda: _P.sample(_X, 0.5, torch.zeros(2, 2)), "x0"),
    BadArg(GaussianPath.sample, lambda: _P.sample(_X, 1.5, _X), "t"),
    BadArg(
        GaussianPath.conditional_velocity,
        lambda: _P.conditional_velocity(torch.zeros(3), 0.5, _X),
        "x1",
    ),
    BadArg(
        GaussianPath.velocity_from_score,
        lambda: _P.velocity_from_score(_X, 0.0, _X),
        "t",
    ),
    BadArg(
        GaussianPath.velocity_from_score,
        lambda: _P.velocity_from_score(_X, 0.5, torch.zeros(3, 3)),
        "score",
    ),
    BadArg(CondOTPath, lambda: CondOTPath(1.0), "sigma_min"),
    BadArg(VPPath, lambda: VPPath(0.0, 1.0), "beta_min"),
    BadArg(
        mixture_velocity,
        lambda: mixture_velocity(_P, 0.5, _X, torch.zeros(2, 3), 0.1),
        "means",
    ),
    BadArg(
        mixture_log_prob,
        lambda: mixture_log_prob(_P, 0.5, _X, torch.zeros(2, 2), -1.0),
        "std",
    ),
    BadArg(FMConfig, lambda: FMConfig(path="ve"), "path"),
    BadArg(FMConfig, lambda: FMConfig(method="dopri5"), "method"),
    BadArg(FMConfig, lambda: FMConfig(hidden=0), "hidden"),
    BadArg(FMConfig, lambda: FMConfig(times=(0.0, 0.0)), "times"),
    BadArg(sample_times, lambda: sample_times(0), "n"),
    BadArg(sample_times, lambda: sample_times(4, (0.0,)), "times"),
    BadArg(build_path, lambda: build_path("cond-ot"), "config"),
    BadArg(VelocityField, lambda: VelocityField(0), "dim"),
    BadArg(VelocityField, lambda: VelocityField(2, freqs=0), "freqs"),
    BadArg(VelocityField.forward, lambda: _V(0.5, torch.zeros(3, 3)), "x"),
    BadArg(
        VelocityField.from_config, lambda: VelocityField.from_config({}, 2), "config"
    ),
    BadArg(VelocityField, lambda: VelocityField(2, space_freqs=-1), "space_freqs"),
    BadArg(VelocityField, lambda: VelocityField(2, space_base=0.0), "space_base"),
    BadArg(FMConfig, lambda: FMConfig(net="unet"), "net"),
    BadArg(FMConfig, lambda: FMConfig(space_freqs=1.5), "space_freqs"),
    BadArg(FMConfig, lambda: FMConfig(space_base=float("inf")), "space_base"),
    BadArg(FMConfig, lambda: FMConfig(net="conv", space_freqs=2), "space_freqs"),
    BadArg(ConvVelocityField, lambda: ConvVelocityField(63), "dim"),
    BadArg(ConvVelocityField, lambda: ConvVelocityField(64, channels=0), "channels"),
    BadArg(ConvVelocityField, lambda: ConvVelocityField(64, blocks=0), "blocks"),
    BadArg(ConvVelocityField.forward, lambda: _CV(0.5, torch.zeros(3, 3)), "x"),
    BadArg(ConvVelocityField.forward, lambda: _CV(torch.zeros(2), _IMG), "t"),
    BadArg(
        ConvVelocityField.from_config,
        lambda: ConvVelocityField.from_config(None, 64),
        "config",
    ),
    BadArg(velocity_field, lambda: velocity_field("mlp", 2), "config"),
    BadArg(cfm_loss, lambda: cfm_loss(_V, torch.zeros(0, 2), _P), "x1"),
    BadArg(cfm_loss, lambda: cfm_loss(_V, _X, "ot"), "path"),
    BadArg(cfm_loss, lambda: cfm_loss(_V, _X, _P, times=(0.0, -1.0)), "times"),
    BadArg(
        standard_normal_log_prob, lambda: standard_normal_log_prob(torch.zeros(3)), "z"
    ),
    BadArg(ContinuousFlow, lambda: ContinuousFlow(_V, 2, "rk5", 1), "method"),
    BadArg(ContinuousFlow, lambda: ContinuousFlow(_V, 2, "rk4", 0), "steps"),
    BadArg(ContinuousFlow.log_prob, lambda: _F.log_prob(torch.zeros(2, 3)), "x"),
    BadArg(ContinuousFlow.sample, lambda: _F.sample(0), "n"),
    BadArg(
        train_velocity,
        lambda: train_velocity(_V, None, _X, TrainConfig(1, 1)),
        "path",
    ),
    BadArg(
        train_velocity,
        lambda: train_velocity(_V, _P, _X, TrainConfig(1, 1), times=(1.0, 0.0)),
        "times",
    ),
    # the chapter
    BadArg(
        chapter.FlowMatchingConfig,
        lambda: chapter.FlowMatchingConfig(datasets=("swissroll",)),
        "datasets",
    ),
    BadArg(
        chapter.FlowMatchingConfig,
        lambda: chapter.FlowMatchingConfig(solvers=(("rk4", 0),)),
        "solvers",
    ),
    BadArg(
        chapter.FlowMatchingConfig,
        lambda: chapter.FlowMatchingConfig(alpha=0.5),
        "alpha",
    ),
    BadArg(
        chapter.FlowMatchingConfig,
        lambda: chapter.FlowMatchingConfig(long_model2d=None),
        "long_model2d",
    ),
    BadArg(
        chapter.FlowMatchingConfig,
        lambda: chapter.FlowMatchingConfig(digits_train=None),
        "digits_train",
    ),
    BadArg(
        chapter.make_test_set,
        lambda: chapter.make_test_set(_C, "rings"),
        "dataset",
    ),
    BadArg(
        chapter.FlowMatchingConfig,
        lambda: chapter.FlowMatchingConfig(long_batch_size=0),
        "long_batch_size",
    ),
    BadArg(chapter.long_run_config, lambda: chapter.long_run_config(None), "config"),
    BadArg(
        chapter.build_velocity,
        lambda: chapter.build_velocity(None, 2, 0),
        "config",
    ),
    BadArg(chapter.train_2d, lambda: chapter.train_2d(_C, "moons", steps=0), "steps"),
    BadArg(
        chapter.digits_preprocess,
        lambda: chapter.digits_preprocess(None),
        "config",
    ),
    BadArg(
        chapter.train_digits,
        lambda: chapter.train_digits(_C, _SPLIT.train),
        "split",
    ),
    BadArg(
        chapter.evaluate_digits,
        lambda: chapter.evaluate_digits(_C, _V, _SPLIT.test),
        "flow",
    ),
    BadArg(chapter.sample_digits, lambda: chapter.sample_digits(_F, 0, 0), "n"),
    BadArg(
        chapter.solver_sweep,
        lambda: chapter.solver_sweep(_C, _F, _SPLIT, torch.nn.Linear(1, 1)),
        "classifier",
    ),
]
