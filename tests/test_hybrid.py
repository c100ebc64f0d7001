"""Mathematical checks of the flow-prior VAE (tutorial_lib.vae.flow_prior) and of the
hybrid chapter's recipe, each against an independent reference: the standard normal
prior of the plain VAE, the change of variables with an autograd Jacobian, quadrature
over a 2-D latent space, and the closed-form KL."""

from __future__ import annotations

import dataclasses
import importlib
import math
import sys
from pathlib import Path

import pytest
import torch
from bad_arguments import BadArg
from torch.distributions import Independent, Normal

from tutorial_lib.autoregressive import ARConfig
from tutorial_lib.chapters import autoregressive, hybrid, vae_digits
from tutorial_lib.flows import Flow, FlowConfig, build_flow
from tutorial_lib.vae import VAE, VAEConfig, build_vae, elbo, iwae_log_likelihood
from tutorial_lib.vae.ar_decoder import (
    ARDecoderVAE,
    ARLikelihood,
    ConditionalGatedPixelCNN,
    build_ar_decoder_vae,
)
from tutorial_lib.vae.flow_prior import (
    FlowDistribution,
    FlowPriorVAE,
    build_flow_prior_vae,
)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


_SMALL = VAEConfig(data_dim=3, latent_dim=2, hidden=16, layers=1,
                   likelihood="categorical", levels=3)


def _perturb(module: torch.nn.Module, scale: float = 0.3) -> None:
    """Move every parameter away from the identity initialisation of the flows."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn_like(p))


def _hybrid(kind: str = "spline_ar", config: VAEConfig = _SMALL) -> FlowPriorVAE:
    model = build_flow_prior_vae(config, FlowConfig(kind, layers=2, hidden=8))
    _perturb(model.prior_flow)
    return model


def _x(n: int = 5, config: VAEConfig = _SMALL) -> torch.Tensor:
    return torch.randint(0, config.levels, (n, config.data_dim)).float()


def test_identity_flow_prior_is_the_standard_normal_prior():
    model = build_flow_prior_vae(_SMALL, None)
    z = torch.randn(7, 4, 2)
    normal = Independent(Normal(torch.zeros(2), torch.ones(2)), 1)
    assert torch.equal(model.prior().log_prob(z), normal.log_prob(z))
    assert sum(p.numel() for p in model.prior_flow.parameters()) == 0


def test_identity_flow_prior_vae_equals_the_plain_vae():
    torch.manual_seed(3)
    plain = build_vae(_SMALL)
    torch.manual_seed(3)
    hybrid_model = build_flow_prior_vae(_SMALL, None)
    # the same seed gives the same encoder and decoder (built before the flow)
    for a, b in zip(plain.state_dict().values(), hybrid_model.state_dict().values()):
        assert torch.equal(a, b)
    x = _x(6)
    torch.manual_seed(1)
    iw_plain = iwae_log_likelihood(plain, x, 50)
    torch.manual_seed(1)
    iw_hybrid = iwae_log_likelihood(hybrid_model, x, 50)
    assert torch.equal(iw_plain, iw_hybrid)  # exactly the same model
    # the ELBO: same reconstruction term; the Monte Carlo KL is unbiased for the
    # closed form (20,000 draws: standard error of the mean well below 0.02 nats)
    torch.manual_seed(2)
    closed = elbo(plain, x, n_samples=20_000)
    torch.manual_seed(2)
    mc = elbo(hybrid_model, x, n_samples=20_000)
    assert torch.equal(closed.reconstruction, mc.reconstruction)
    assert torch.allclose(mc.kl, closed.kl, atol=0.05)


@pytest.mark.parametrize("kind", ["maf", "spline_ar", "realnvp", "spline"])
def test_flow_prior_log_density_is_the_change_of_variables(kind):
    """log p(z) = log N(f(z); 0, I) + log|det df/dz|, the determinant from an autograd
    Jacobian, against the flow layers' own log-determinants."""
    dim = 4
    flow = build_flow(FlowConfig(kind, layers=3, hidden=8), dim)
    _perturb(flow)
    prior = FlowDistribution(flow)
    z = torch.randn(6, dim)
    base = Independent(Normal(torch.zeros(dim), torch.ones(dim)), 1)
    for zi, lp in zip(z, prior.log_prob(z)):
        jac = torch.autograd.functional.jacobian(lambda v: flow(v[None])[0][0], zi)
        u = flow(zi[None])[0][0]
        direct = base.log_prob(u) + torch.linalg.slogdet(jac).logabsdet
        assert torch.allclose(lp, direct, atol=1e-4)
    # any leading shape: (S, B, dim) is flattened and restored
    zz = torch.randn(3, 2, dim)
    assert torch.allclose(prior.log_prob(zz).flatten(), prior.log_prob(zz.flatten(0, 1)))


def _grid(lim: float = 7.0, n: int = 281) -> tuple[torch.Tensor, float]:
    t = torch.linspace(-lim, lim, n, dtype=torch.float64)
    zz = torch.cartesian_prod(t, t)  # (n^2, 2)
    return zz, float((t[1] - t[0]) ** 2)


def test_flow_prior_integrates_to_one():
    model = _hybrid().double()
    zz, cell = _grid()
    with torch.no_grad():
        mass = float(model.prior().log_prob(zz).exp().sum() * cell)
    assert abs(mass - 1.0) < 2e-3, mass


def test_elbo_and_iw_bound_below_the_exact_log_likelihood():
    """For a 2-D latent, log p(x) = log ∫ p(x|z) p(z) dz by quadrature; the ELBO and
    the importance-weighted bound lie below it, the IW bound above the ELBO and close
    to log p(x) for large k."""
    model = _hybrid().double()
    _perturb(model, 0.2)
    x = _x(4).double()
    zz, cell = _grid()
    with torch.no_grad():
        log_joint = model.likelihood(zz[:, None, :]).log_prob(x)  # (n^2, B)
        log_joint = log_joint + model.prior().log_prob(zz)[:, None]
        exact = torch.logsumexp(log_joint, 0) + math.log(cell)  # (B,)
        torch.manual_seed(0)
        bound = elbo(model, x, n_samples=20_000).elbo
    iw = iwae_log_likelihood(model, x, 20_000)
    iw10 = iwae_log_likelihood(model, x, 10)
    assert torch.all(bound < exact) and torch.all(iw10.mean() > bound.mean())
    assert torch.all(iw <= exact + 0.02) and torch.allclose(iw, exact, atol=0.05)


def test_flow_prior_samples_follow_the_prior():
    """rsample runs the inverse flow: a histogram of its draws in a 2-D latent space
    matches the prior's density integrated over the same cells."""
    model = _hybrid()
    gen = torch.Generator().manual_seed(0)
    draws = model.prior().rsample((40_000,), generator=gen)  # (40000, 2)
    assert draws.shape == (40_000, 2)
    edges = torch.tensor([-math.inf, -1.0, 0.0, 1.0, math.inf])
    zz, cell = _grid()
    with torch.no_grad():
        dens = model.prior().log_prob(zz.float()).exp().double() * cell
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (draws[:, 0] > lo) & (draws[:, 0] <= hi)
        grid_in = (zz[:, 0] > lo) & (zz[:, 0] <= hi)
        expected = float(dens[grid_in].sum())
        observed = float(inside.double().mean())
        assert abs(observed - expected) < 0.015, (lo, hi, observed, expected)
    x = model.sample(5, generator=gen)
    assert x.shape == (5, 3) and set(x.unique().tolist()) <= {0.0, 1.0, 2.0}


def test_a_flow_prior_vae_is_a_vae_with_the_same_networks():
    model = _hybrid("maf")
    assert isinstance(model, VAE)
    x = _x(4)
    torch.manual_seed(0)
    terms = elbo(model, x, n_samples=3)
    assert terms.elbo.shape == (4,) and torch.isfinite(terms.elbo).all()
    assert isinstance(model.prior(), FlowDistribution)


def test_the_chapter_changes_only_the_prior():
    """The hybrid's architecture, training and evaluation are the digits chapter's."""
    c = hybrid.CONFIG
    assert c.model == vae_digits.CONFIG.model
    assert c.evaluation == vae_digits.CONFIG


def _tiny_config() -> hybrid.HybridConfig:
    c = hybrid.CONFIG
    train = dataclasses.replace(c.train, steps=6, val_every=3, progress=False)
    return dataclasses.replace(c, train=train, warmup=4, val_samples=2)


def test_train_hybrid_vae_runs_and_is_reproducible():
    x = torch.randint(0, 17, (40, 64)).float()
    config = _tiny_config()
    model, history = hybrid.train_hybrid_vae(x[:30], x[30:], config)
    again, _ = hybrid.train_hybrid_vae(x[:30], x[30:], config)
    assert isinstance(model, FlowPriorVAE) and history.best_step is not None
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    normal, _ = hybrid.train_hybrid_vae(x[:30], x[30:], config, prior="normal")
    assert len(normal.prior_flow.layers) == 0
    iw_config = dataclasses.replace(config, train_k=3, val_k=4)
    iw_model, iw_history = hybrid.train_hybrid_vae(x[:30], x[30:], iw_config)
    assert iw_history.best_step is not None and math.isfinite(iw_history.val[-1][1])
    result = vae_digits.evaluate_digits_vae(
        model, x[30:], x[30:],
        dataclasses.replace(config.evaluation, k=5, elbo_samples=2),
    )
    assert math.isfinite(result.nll) and result.nll < result.nelbo + 1.0


def test_benchmark_quick_mode_runs():
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    bench = importlib.import_module("benchmarks.hybrid")
    keys = set(importlib.import_module("benchmarks").RECORD_KEYS)
    records = bench.run(quick=True)
    # five models with five metrics, two target rows, the VLAE's three quick rows
    assert len(records) == 5 * 5 + 2 + 3
    for r in records:
        assert set(r) == keys and r["suite"] == "hybrid"
        assert math.isfinite(r["value"]) and r["seconds"] >= 0


# --- the VLAE: a conditional PixelCNN decoder -------------------------------------


def _tiny_ar_vae(seed: int = 0) -> ARDecoderVAE:
    torch.manual_seed(seed)
    config = VAEConfig(data_dim=4, latent_dim=2, hidden=8, layers=1,
                       likelihood="categorical", levels=3)
    model = ARDecoderVAE(config, FlowConfig("spline_ar", layers=1, hidden=8),
                         ARConfig("gated", width=4, depth=2), shape=(2, 2)).double()
    with torch.no_grad():  # away from the zero-initialised heads
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model.eval()


def test_conditional_pixelcnn_is_autoregressive_given_the_code():
    torch.manual_seed(1)
    net = ConditionalGatedPixelCNN(3, shape=(4, 4), levels=5, channels=6, layers=2)
    x = torch.randint(0, 5, (1, 16)).double()
    z = torch.randn(1, 3)
    net = net.double()
    jac = torch.autograd.functional.jacobian(
        lambda v: net.conditional_logits(v, z.double()).sum(-1)[0], x)[:, 0]  # (16, 16)
    for i in range(16):  # output i depends on no input j >= i
        assert torch.all(jac[i, i:] == 0), i
    assert jac.abs().sum() > 0  # and on some earlier ones
    # the code reaches every pixel, the first one included
    jz = torch.autograd.functional.jacobian(
        lambda c: net.conditional_logits(x, c).sum(-1)[0], z.double())[:, 0]  # (16, 3)
    assert torch.all(jz.abs().sum(1) > 0)


def test_ar_decoder_likelihood_sums_to_one_over_every_image():
    model = _tiny_ar_vae()
    images = torch.cartesian_prod(*[torch.arange(3.0)] * 4).double()  # (81, 4)
    z = torch.randn(2, 2, dtype=torch.float64)
    with torch.no_grad():
        for zi in z:
            log_p = model.likelihood(zi.expand(81, 2)).log_prob(images)
            assert torch.logsumexp(log_p, 0).exp().item() == pytest.approx(1, abs=1e-12)


def test_ar_decoder_broadcasts_like_the_vae_decoder_and_bounds_hold():
    model = _tiny_ar_vae()
    x = torch.tensor([[0.0, 1.0, 2.0, 1.0], [2.0, 2.0, 0.0, 0.0]], dtype=torch.float64)
    z = torch.randn(5, 2, 2, dtype=torch.float64)  # (S, B, latent)
    with torch.no_grad():
        lp = model.likelihood(z).log_prob(x)
        one = model.likelihood(z[3, 1]).log_prob(x[1])
    assert lp.shape == (5, 2) and torch.allclose(lp[3, 1], one)
    # exact log p(x) by quadrature over the 2-D latent; ELBO < IW <= exact (+ MC error)
    t = torch.linspace(-7, 7, 201, dtype=torch.float64)
    grid, cell = torch.cartesian_prod(t, t), float((t[1] - t[0]) ** 2)
    with torch.no_grad():
        joint = model.likelihood(grid[:, None, :]).log_prob(x) + model.prior().log_prob(
            grid)[:, None]
        exact = torch.logsumexp(joint, 0) + math.log(cell)
        torch.manual_seed(3)
        bound = elbo(model, x, n_samples=4000).elbo
    torch.manual_seed(4)
    iw = iwae_log_likelihood(model, x, 4000)
    assert torch.all(bound < iw) and torch.all(iw <= exact + 0.02)


def test_ar_decoder_samples_and_refuses_a_mean():
    model = _tiny_ar_vae()
    g = torch.Generator().manual_seed(0)
    x = model.sample(6, g)
    assert x.shape == (6, 4) and torch.equal(x, x.round()) and x.max() <= 2
    with pytest.raises(ValueError, match="mean"):
        model.sample(2, g, mean=True)
    # a code that pins every pixel: sampling returns the pinned image
    z = torch.zeros(3, 2, dtype=torch.float64)
    assert model.likelihood(z).sample(generator=g).shape == (3, 4)


def test_the_vlae_configuration_is_the_chapters():
    assert hybrid.VLAE.decoder.kind == "gated" and hybrid.VLAE.decoder.depth == 2
    assert hybrid.VLAE.model == hybrid.CONFIG.model
    assert hybrid.VLAE.flow == hybrid.CONFIG.flow
    assert hybrid.VLAE.train.steps == autoregressive.CONFIG.train.steps
    x = vae_digits.CONFIG  # the evaluation differs from the digits chapter's only in k
    assert dataclasses.replace(hybrid.VLAE.evaluation, k=x.k, elbo_samples=x.elbo_samples) == x


# --- bad arguments (format: tests/bad_arguments.py) --------------------------------

_Z = torch.zeros
_X = torch.zeros(4, 64)

_DIGITS64 = VAEConfig(data_dim=64, latent_dim=2, hidden=8, likelihood="categorical")

BAD_ARGUMENTS = [
    BadArg(ConditionalGatedPixelCNN, lambda: ConditionalGatedPixelCNN(0), "latent_dim"),
    BadArg(ConditionalGatedPixelCNN.conditional_logits,
           lambda: ConditionalGatedPixelCNN(2).conditional_logits(_X, _Z(4, 3)), "z"),
    BadArg(ARLikelihood, lambda: ARLikelihood("net", _Z(2, 2)), "net"),
    BadArg(ARLikelihood, lambda: ARLikelihood(ConditionalGatedPixelCNN(2), _Z(2, 3)),
           "z"),
    BadArg(ARLikelihood.log_prob,
           lambda: ARLikelihood(ConditionalGatedPixelCNN(2), _Z(2, 2)).log_prob(
               _Z(2, 5)), "x"),
    BadArg(ARLikelihood.sample,
           lambda: ARLikelihood(ConditionalGatedPixelCNN(2), _Z(2, 2)).sample((3,)),
           "sample_shape"),
    BadArg(ARDecoderVAE, lambda: ARDecoderVAE(_DIGITS64, None, ARConfig("made")), "decoder"),
    BadArg(ARDecoderVAE,
           lambda: ARDecoderVAE(_DIGITS64, None, ARConfig("gated"), shape=(4, 4)), "shape"),
    BadArg(ARDecoderVAE.decode,
           lambda: ARDecoderVAE(_DIGITS64, None, ARConfig("gated", 4, 1)).decode(
               _Z(2, 2), mean=True), "mean"),
    BadArg(build_ar_decoder_vae,
           lambda: build_ar_decoder_vae("config", None, ARConfig("gated")), "config"),
    BadArg(hybrid.HybridConfig, lambda: hybrid.HybridConfig(decoder=ARConfig("made")),
           "decoder"),
    BadArg(hybrid.train_decoder_alone,
           lambda: hybrid.train_decoder_alone(_X, _X, hybrid.CONFIG), "config"),
    BadArg(FlowDistribution, lambda: FlowDistribution("flow"), "flow"),
    BadArg(FlowDistribution.log_prob,
           lambda: FlowDistribution(Flow([], 2)).log_prob(_Z(3, 3)), "value"),
    BadArg(FlowPriorVAE, lambda: FlowPriorVAE(_SMALL, flow="maf"), "flow"),
    BadArg(FlowPriorVAE.sample, lambda: FlowPriorVAE(_SMALL).sample(0), "n"),
    BadArg(build_flow_prior_vae, lambda: build_flow_prior_vae("c", None), "config"),
    BadArg(hybrid.HybridConfig, lambda: hybrid.HybridConfig(warmup=-1), "warmup"),
    BadArg(hybrid.HybridConfig, lambda: hybrid.HybridConfig(model=_SMALL), "model"),
    BadArg(hybrid.HybridConfig, lambda: hybrid.HybridConfig(flow="maf"), "flow"),
    BadArg(hybrid.HybridConfig,
           lambda: hybrid.HybridConfig(evaluation=None), "evaluation"),
    BadArg(hybrid.HybridConfig, lambda: hybrid.HybridConfig(val_samples=0),
           "val_samples"),
    BadArg(hybrid.HybridConfig, lambda: hybrid.HybridConfig(train_k=0), "train_k"),
    BadArg(hybrid.HybridConfig, lambda: hybrid.HybridConfig(val_k=-1), "val_k"),
    BadArg(hybrid.train_hybrid_vae,
           lambda: hybrid.train_hybrid_vae(_X, _X, prior="vamp"), "prior"),
    BadArg(hybrid.train_hybrid_vae,
           lambda: hybrid.train_hybrid_vae(_X, _X, config=None), "config"),
    BadArg(hybrid.train_hybrid_vae,
           lambda: hybrid.train_hybrid_vae(_X[:, :3], _X), "x_train"),
    BadArg(hybrid.train_hybrid_vae,
           lambda: hybrid.train_hybrid_vae(_X, _X, seed=-2), "seed"),
]
