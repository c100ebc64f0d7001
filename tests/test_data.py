"""The 2-D densities: shapes, normalisation, samples against log_prob, entropies; the digits split."""

import math

import pytest
import torch

from tutorial_lib.data import DENSITY_NAMES, get_density, load_digits_split
from tutorial_lib.metrics import entropy_mc

GRID = 256  # cells per axis; blocks of 16 x 16 cells form the coarse histogram bins


@pytest.fixture(scope="module", params=DENSITY_NAMES)
def on_grid(request):
    """A density with its log-density at the centres of a GRID x GRID midpoint grid over its bounds."""
    d = get_density(request.param)
    x0, x1, y0, y1 = d.bounds
    hx, hy = (x1 - x0) / GRID, (y1 - y0) / GRID
    xs = x0 + hx * (torch.arange(GRID, dtype=torch.float64) + 0.5)
    ys = y0 + hy * (torch.arange(GRID, dtype=torch.float64) + 0.5)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")  # (GRID, GRID): rows follow y
    lp = d.log_prob(torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)).reshape(GRID, GRID)
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
    """Histogram of 200k samples on 16 x 16 bins against the bin masses from the density."""
    d, lp, area = on_grid
    x0, x1, y0, y1 = d.bounds
    mass = (lp.exp() * area).reshape(16, 16, 16, 16).sum((1, 3))  # (y bins, x bins)
    s = d.sample(200_000, generator=gen).double()
    ix = ((s[:, 0] - x0) / (x1 - x0) * 16).floor().long()
    iy = ((s[:, 1] - y0) / (y1 - y0) * 16).floor().long()
    ok = (ix >= 0) & (ix < 16) & (iy >= 0) & (iy < 16)
    hist = torch.zeros(16, 16, dtype=torch.float64).index_put_((iy[ok], ix[ok]), torch.ones(int(ok.sum()), dtype=torch.float64), accumulate=True)
    tv = 0.5 * float((hist / s.shape[0] - mass).abs().sum())
    # sampling noise alone gives TV ~ 0.01 with 200k samples over <= 256 bins
    assert tv < 0.03, f"{d.name}: total variation between samples and density is {tv:.4f}"


def test_entropy_matches_quadrature(on_grid):
    d, lp, area = on_grid
    p = lp.exp()
    h_quad = float(-(torch.where(p > 0, p * lp, torch.zeros_like(p))).sum() * area)
    h_mc, se = entropy_mc(d, n=20_000, seed=1)
    # the grid is fine enough that its own error is far below the Monte Carlo error, except
    # for the ring's sigma = 0.01 components where 3 cells per sigma still give < 1e-3
    assert abs(h_mc - h_quad) < 3 * se + 1e-3, f"{d.name}: MC {h_mc:.4f} +- {se:.4f}, quadrature {h_quad:.4f}"


def test_checkerboard_entropy_is_log_32(gen):
    d = get_density("checkerboard")
    lp = d.log_prob(d.sample(1000, generator=gen))
    assert torch.allclose(lp, torch.full_like(lp, -math.log(32)))


def test_quadratures_converged(gen):
    """Numerically integrated log-densities agree with a much finer quadrature to 1e-3 nats."""
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
    assert torch.allclose(angles.sort().values, 2 * math.pi * torch.arange(8, dtype=torch.float64) / 8, atol=1e-12)
    assert grid.means.shape == (25, 2) and grid.std == 0.05
    assert set(grid.means.flatten().tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}


def test_bad_inputs():
    with pytest.raises(ValueError, match="name must be one of 8gaussians"):
        get_density("swissroll")
    d = get_density("moons")
    with pytest.raises(ValueError, match="n must be a positive int"):
        d.sample(0)
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        d.log_prob(torch.zeros(5, 3))


def test_digits_split():
    s = load_digits_split()
    assert s.train.shape == (1000, 64) and s.val.shape == (350, 64) and s.test.shape == (447, 64)
    assert s.train_labels.shape == (1000,) and s.test_labels.dtype == torch.int64
    allx = torch.cat([s.train, s.val, s.test])
    assert allx.dtype == torch.float32 and allx.min() == 0 and allx.max() == 16
    assert torch.equal(allx, allx.round())
