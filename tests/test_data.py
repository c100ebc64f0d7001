"""The data package: the 2-D densities (shapes, normalisation, samples against log_prob,
entropies, quadrature), the Gauss-Legendre rule, the digits split and pixel scales, the
linear-Gaussian model against sampling, and the bad-argument rows of
``tutorial_lib.data``.
"""

import math

import numpy as np
import pytest
import torch
from bad_arguments import BadArg

from tutorial_lib.data import (
    DENSITY_NAMES,
    Density2D,
    DigitsSplit,
    GaussianMixture2D,
    LinearDataConfig,
    LinearGaussian,
    check_density_names,
    dequantize,
    dequantized_sampler,
    gauss_legendre,
    get_density,
    load_digits_split,
    make_linear_gaussian_data,
    to_pixels,
    to_unit,
)
from tutorial_lib.metrics import entropy_mc

GRID = 256  # cells per axis; blocks of 16 x 16 cells form the coarse histogram bins


@pytest.fixture(scope="module", params=DENSITY_NAMES)
def on_grid(request):
    """A density with its log-density at the centres of a GRID x GRID midpoint grid
    over its bounds."""
    d = get_density(request.param)
    x0, x1, y0, y1 = d.bounds
    hx, hy = (x1 - x0) / GRID, (y1 - y0) / GRID
    xs = x0 + hx * (torch.arange(GRID, dtype=torch.float64) + 0.5)
    ys = y0 + hy * (torch.arange(GRID, dtype=torch.float64) + 0.5)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")  # (GRID, GRID): rows follow y
    lp = d.log_prob(torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)).reshape(
        GRID, GRID
    )
    return d, lp, hx * hy


def test_shapes_and_dtypes(on_grid, gen):
    d, _, _ = on_grid
    x = d.sample(101, generator=gen)
    assert x.shape == (101, 2) and x.dtype == torch.float32
    lp = d.log_prob(x)
    assert lp.shape == (101,) and lp.dtype == torch.float32
    assert d.log_prob(x.double()).dtype == torch.float64
    assert torch.isfinite(lp).all(), "a sample has zero density"


def test_integrates_to_one(on_grid):
    d, lp, area = on_grid
    total = float(lp.exp().sum() * area)
    assert abs(total - 1) < 1e-2, f"{d.name}: density integrates to {total}"


def test_samples_follow_log_prob(on_grid, gen):
    """Histogram of 200k samples on 16 x 16 bins against the bin masses from the
    density."""
    d, lp, area = on_grid
    x0, x1, y0, y1 = d.bounds
    mass = (lp.exp() * area).reshape(16, 16, 16, 16).sum((1, 3))  # (y bins, x bins)
    s = d.sample(200_000, generator=gen).double()
    ix = ((s[:, 0] - x0) / (x1 - x0) * 16).floor().long()
    iy = ((s[:, 1] - y0) / (y1 - y0) * 16).floor().long()
    ok = (ix >= 0) & (ix < 16) & (iy >= 0) & (iy < 16)
    hist = torch.zeros(16, 16, dtype=torch.float64).index_put_(
        (iy[ok], ix[ok]),
        torch.ones(int(ok.sum()), dtype=torch.float64),
        accumulate=True,
    )
    tv = 0.5 * float((hist / s.shape[0] - mass).abs().sum())
    # sampling noise alone gives TV ~ 0.01 with 200k samples over <= 256 bins
    assert (
        tv < 0.03
    ), f"{d.name}: total variation between samples and density is {tv:.4f}"


def test_entropy_matches_quadrature(on_grid):
    d, lp, area = on_grid
    p = lp.exp()
    h_quad = float(-(torch.where(p > 0, p * lp, torch.zeros_like(p))).sum() * area)
    h_mc, se = entropy_mc(d, n=20_000, seed=1)
    # the grid is fine enough that its own error is far below the Monte Carlo error,
    # except for the ring's sigma = 0.01 components where 3 cells per sigma still
    # give < 1e-3
    assert (
        abs(h_mc - h_quad) < 3 * se + 1e-3
    ), f"{d.name}: MC {h_mc:.4f} +- {se:.4f}, quadrature {h_quad:.4f}"


def test_checkerboard_entropy_is_log_32(gen):
    d = get_density("checkerboard")
    lp = d.log_prob(d.sample(1000, generator=gen))
    assert torch.allclose(lp, torch.full_like(lp, -math.log(32)))


def test_quadratures_converged(gen):
    """Numerically integrated log-densities agree with a much finer quadrature to 1e-3
    nats."""
    for name, coarse, fine in [
        ("moons", {}, {"panels": 128, "order": 16}),
        ("2spirals", {}, {"panels": 200, "order": 24}),
        ("pinwheel", {}, {"grid": 4096, "iters": 60}),
    ]:
        d = get_density(name)
        x = d.sample(500, generator=gen).double()
        err = (d._log_prob(x, **coarse) - d._log_prob(x, **fine)).abs().max()
        assert err < 1e-3, f"{name}: quadrature error {err:.2e}"


def test_gan_mixtures_follow_pacgan():
    ring, grid = get_density("ring"), get_density("grid")
    assert ring.means.shape == (8, 2) and ring.std == 0.01
    angles = torch.atan2(ring.means[:, 1], ring.means[:, 0]) % (2 * math.pi)
    assert torch.allclose(
        angles.sort().values,
        2 * math.pi * torch.arange(8, dtype=torch.float64) / 8,
        atol=1e-12,
    )
    assert grid.means.shape == (25, 2) and grid.std == 0.05
    assert set(grid.means.flatten().tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}


def test_digits_split():
    s = load_digits_split()
    assert (
        s.train.shape == (1000, 64)
        and s.val.shape == (350, 64)
        and s.test.shape == (447, 64)
    )
    assert s.train_labels.shape == (1000,) and s.test_labels.dtype == torch.int64
    allx = torch.cat([s.train, s.val, s.test])
    assert allx.dtype == torch.float32 and allx.min() == 0 and allx.max() == 16
    assert torch.equal(allx, allx.round())


def test_pixel_scales_and_dequantisation(gen):
    s = load_digits_split()
    torch.testing.assert_close(to_pixels(to_unit(s.test)), s.test)
    assert to_unit(torch.tensor([0.0, 8.0, 16.0])).tolist() == [-1.0, 0.0, 1.0]
    v = dequantize(s.train, gen)
    # x + u with u in [0, 1): the floor gives back the pixels
    assert torch.equal(v.floor(), s.train) and v.dtype == s.train.dtype
    draw = dequantized_sampler(s.train)
    batch = draw(4096, gen)
    assert batch.shape == (4096, 64) and torch.all(batch >= 0) and torch.all(batch < 17)
    # the noise is uniform: mean of the fractional parts 1/2 (sd 1/sqrt(12 * 4096 * 64))
    assert abs(float((batch - batch.floor()).mean()) - 0.5) < 0.005


def test_gauss_legendre_integrates_polynomials_and_a_gaussian():
    nodes, weights = gauss_legendre(-1.0, 2.0, panels=3, order=4)
    assert nodes.shape == weights.shape == (12,)
    # exact up to degree 2 * order - 1 = 7: int_{-1}^{2} t^7 dt = (2^8 - 1) / 8
    assert abs(float((weights * nodes**7).sum()) - 255 / 8) < 1e-10
    t, w = gauss_legendre(-8.0, 8.0, panels=16, order=8)
    normal = torch.distributions.Normal(0.0, 1.0)
    assert abs(float((w * normal.log_prob(t).exp()).sum()) - 1) < 1e-12


def test_linear_gaussian_matches_its_samples(gen):
    x, model = make_linear_gaussian_data(LinearDataConfig(n=200_000, seed=3))
    D, q = model.dims
    assert x.shape == (200_000, D) and (D, q) == (5, 2)
    # the sample covariance matches W W^T + sigma^2 I (sd of each entry < 0.01 here)
    cov = model.W @ model.W.T + model.sigma2 * torch.eye(D, dtype=torch.float64)
    torch.testing.assert_close(torch.cov(x.T), cov, atol=0.05, rtol=0)
    # the exact posterior's mean is E[z | x]: regress z on x by least squares instead
    z = torch.randn(50_000, q, generator=gen, dtype=torch.float64)
    xs = (
        z @ model.W.T
        + model.b
        + model.sigma2.sqrt()
        * torch.randn(50_000, D, generator=gen, dtype=torch.float64)
    )
    design = torch.cat([xs, torch.ones(50_000, 1, dtype=torch.float64)], 1)
    coef = torch.linalg.lstsq(design, z).solution  # (D + 1, q)
    probe = xs[:5]
    fitted = torch.cat([probe, torch.ones(5, 1, dtype=torch.float64)], 1) @ coef
    torch.testing.assert_close(model.posterior(probe).mean, fitted, atol=0.03, rtol=0)


def _tiny_split(**changes):
    x, y = torch.zeros(4, 64), torch.zeros(4, dtype=torch.int64)
    parts = dict(train=x, val=x, test=x, train_labels=y, val_labels=y, test_labels=y)
    return DigitsSplit(**(parts | changes))


_W, _B = torch.zeros(3, 2), torch.zeros(3)
_MEANS = torch.zeros(2, 2)

BAD_ARGUMENTS = [
    BadArg(get_density, lambda: get_density("swissroll"), "name"),
    BadArg(
        check_density_names,
        lambda: check_density_names(("moons", "swissroll")),
        "datasets",
    ),
    BadArg(check_density_names, lambda: check_density_names([], field="sets"), "sets"),
    BadArg(Density2D.sample, lambda: get_density("moons").sample(0), "n"),
    BadArg(
        Density2D.log_prob,
        lambda: get_density("moons").log_prob(torch.zeros(5, 3)),
        "x",
    ),
    BadArg(
        GaussianMixture2D,
        lambda: GaussianMixture2D("m", torch.zeros(2, 3), 1.0, (0, 1, 0, 1)),
        "means",
    ),
    BadArg(
        GaussianMixture2D,
        lambda: GaussianMixture2D("m", _MEANS, 0.0, (0, 1, 0, 1)),
        "std",
    ),
    BadArg(
        GaussianMixture2D,
        lambda: GaussianMixture2D("m", _MEANS, 1.0, (1, 0, 0, 1)),
        "bounds",
    ),
    BadArg(gauss_legendre, lambda: gauss_legendre(0.0, 1.0, 0, 4), "panels"),
    BadArg(gauss_legendre, lambda: gauss_legendre(0.0, 1.0, 2, 0), "order"),
    BadArg(gauss_legendre, lambda: gauss_legendre(1.0, 0.0, 2, 4), "b"),
    BadArg(DigitsSplit, lambda: _tiny_split(val=torch.zeros(4, 63)), "val"),
    BadArg(DigitsSplit, lambda: _tiny_split(test_labels=torch.zeros(3)), "test_labels"),
    BadArg(DigitsSplit, lambda: _tiny_split(levels=1), "levels"),
    BadArg(to_unit, lambda: to_unit([0.0, 16.0]), "pixels"),
    BadArg(to_pixels, lambda: to_pixels(np.zeros(3)), "unit"),
    BadArg(dequantize, lambda: dequantize(torch.zeros(3, dtype=torch.int64)), "x"),
    BadArg(dequantized_sampler, lambda: dequantized_sampler(torch.zeros(0, 64)), "x"),
    BadArg(
        LinearGaussian,
        lambda: LinearGaussian(torch.zeros(3), _B, torch.tensor(1.0)),
        "W",
    ),
    BadArg(
        LinearGaussian,
        lambda: LinearGaussian(_W, torch.zeros(2), torch.tensor(1.0)),
        "b",
    ),
    BadArg(
        LinearGaussian, lambda: LinearGaussian(_W, _B, torch.tensor(-1.0)), "sigma2"
    ),
    BadArg(LinearDataConfig, lambda: LinearDataConfig(n=0), "n"),
    BadArg(LinearDataConfig, lambda: LinearDataConfig(latent_dim=6), "latent_dim"),
    BadArg(LinearDataConfig, lambda: LinearDataConfig(noise=-0.1), "noise"),
    BadArg(
        make_linear_gaussian_data,
        lambda: make_linear_gaussian_data({"n": 10}),
        "config",
    ),
]
