"""Metrics on inputs with known answers."""

import math

import pytest
import torch

from tutorial_lib.data import get_density
from tutorial_lib.metrics import (
    average_nll,
    bits_per_dim,
    frechet_distance,
    frechet_distance_features,
    mmd2_unbiased,
    mode_metrics,
)


@pytest.fixture
def ring():
    return get_density("ring")


def test_all_modes(ring):
    s = ring.means.repeat(10, 1)  # 10 exact hits on each of the 8 modes
    st = mode_metrics(s, ring.means, ring.std)
    assert st.modes == 8 and st.high_quality == 1.0 and abs(st.kl_uniform) < 1e-12
    assert st.counts.tolist() == [10] * 8


def test_one_mode(ring):
    s = ring.means[2] + 0.5 * ring.std * torch.ones(40, 2) / math.sqrt(2)
    st = mode_metrics(s, ring.means, ring.std)
    assert st.modes == 1 and st.high_quality == 1.0
    assert abs(st.kl_uniform - math.log(8)) < 1e-12  # all mass on one of 8 modes


def test_off_mode_points(ring):
    good = ring.means[:4]  # one hit on each of 4 modes
    off = torch.zeros(4, 2)  # the centre is far from every mode: low quality
    near = ring.means[4:5] + torch.tensor([[4 * ring.std, 0.0]])  # 4 sigma away: not high quality
    st = mode_metrics(torch.cat([good, off, near]), ring.means, ring.std)
    assert st.modes == 4 and st.high_quality == pytest.approx(4 / 9)
    assert st.kl_uniform == pytest.approx(math.log(2))  # uniform on 4 of 8 modes
    none = mode_metrics(off, ring.means, ring.std)
    assert none.modes == 0 and none.high_quality == 0 and math.isnan(none.kl_uniform)


def test_mode_metrics_bad_shapes(ring):
    with pytest.raises(ValueError, match="must agree"):
        mode_metrics(torch.zeros(3, 3), ring.means, ring.std)


def test_mmd(gen):
    x = torch.randn(400, 2, generator=gen)
    y = torch.randn(400, 2, generator=gen)
    z = torch.randn(400, 2, generator=gen) + 1.5
    same, diff = mmd2_unbiased(x, y), mmd2_unbiased(x, z)
    assert abs(same) < 0.01 < diff  # unbiased: near zero (either sign) for equal laws


def test_frechet_closed_form(gen):
    f = torch.randn(300, 4, generator=gen)
    assert abs(frechet_distance_features(f, f)) < 1e-8
    # 1-D closed form: (m1 - m2)^2 + (s1 - s2)^2
    d = frechet_distance(torch.tensor([1.0]), torch.tensor([[4.0]]), torch.tensor([-1.0]), torch.tensor([[9.0]]))
    assert d == pytest.approx(4 + 1)
    # commuting (diagonal) covariances: sum of per-axis terms
    c1, c2 = torch.diag(torch.tensor([1.0, 4.0])), torch.diag(torch.tensor([9.0, 1.0]))
    assert frechet_distance(torch.zeros(2), c1, torch.ones(2), c2) == pytest.approx(2 + (1 - 3) ** 2 + (2 - 1) ** 2)


def test_average_nll_is_batch_invariant_and_exact(gen):
    # N(0, 1) log-densities of random points: the batched average equals the direct one for
    # every batch size, including batches that do not divide N.
    normal = torch.distributions.Normal(0.0, 1.0)
    x = torch.randn(1001, 1, generator=gen, dtype=torch.float64)
    direct = float(0.5 * math.log(2 * math.pi) + 0.5 * (x**2).mean())
    for batch_size in (1, 7, 1000, 4096):
        value = average_nll(lambda v: normal.log_prob(v).sum(1), x, batch_size=batch_size)
        assert value == pytest.approx(direct, rel=1e-12)


def test_bits_per_dim():
    assert bits_per_dim(64 * math.log(2), 64) == pytest.approx(1.0)
    assert bits_per_dim(64 * math.log(17), 64) == pytest.approx(math.log2(17))


def test_frechet_distance_matches_scipy_sqrtm(gen):
    # Reference: the formula with scipy.linalg.sqrtm of the product of the covariances,
    # tr(C1 + C2 - 2 (C1 C2)^(1/2)), for random full covariances in 6 dimensions.
    import numpy as np
    from scipy.linalg import sqrtm

    for _ in range(3):
        a, b = torch.randn(6, 6, generator=gen, dtype=torch.float64), torch.randn(6, 6, generator=gen, dtype=torch.float64)
        c1, c2 = a @ a.T + 0.1 * torch.eye(6, dtype=torch.float64), b @ b.T + 0.1 * torch.eye(6, dtype=torch.float64)
        m1, m2 = torch.randn(6, generator=gen, dtype=torch.float64), torch.randn(6, generator=gen, dtype=torch.float64)
        cross = sqrtm(c1.numpy() @ c2.numpy())
        reference = float(((m1 - m2) ** 2).sum() + np.trace(c1.numpy() + c2.numpy() - 2 * cross.real))
        # sqrtm of a non-symmetric product loses a few digits: 1e-8 relative is far above both errors
        assert frechet_distance(m1, c1, m2, c2) == pytest.approx(reference, rel=1e-8)


def test_mmd_matches_its_closed_form_for_two_gaussians(gen):
    # x ~ N(0, s1^2 I), y ~ N(mu, s2^2 I) in D dimensions and k(a, b) = exp(-|a-b|^2 / 2h^2):
    # E k(x, x') = (h^2 / (h^2 + 2 s1^2))^(D/2), E k(y, y') likewise, and
    # E k(x, y) = (h^2 / (h^2 + s1^2 + s2^2))^(D/2) exp(-|mu|^2 / 2(h^2 + s1^2 + s2^2)).
    D, h, s1, s2 = 2, 1.0, 1.0, 0.7
    mu = torch.tensor([0.8, -0.3], dtype=torch.float64)

    def expected() -> float:
        kxx = (h**2 / (h**2 + 2 * s1**2)) ** (D / 2)
        kyy = (h**2 / (h**2 + 2 * s2**2)) ** (D / 2)
        v = h**2 + s1**2 + s2**2
        kxy = (h**2 / v) ** (D / 2) * math.exp(-float(mu @ mu) / (2 * v))
        return kxx + kyy - 2 * kxy

    estimates = []
    for _ in range(10):
        x = s1 * torch.randn(1500, D, generator=gen, dtype=torch.float64)
        y = mu + s2 * torch.randn(1500, D, generator=gen, dtype=torch.float64)
        estimates.append(mmd2_unbiased(x, y, bandwidth=h))
    est = torch.tensor(estimates)
    se = float(est.std() / math.sqrt(len(est)))
    # unbiased estimator: the mean of 10 independent estimates within 4 standard errors
    assert abs(float(est.mean()) - expected()) < 4 * se
    assert expected() > 20 * se  # and the difference is resolved, not lost in the noise


def test_mmd_default_bandwidth_uses_both_samples(gen):
    # The median heuristic pools both samples, also when x has more than 2000 rows, so the
    # estimate is symmetric in (x, y); a bandwidth from x alone (about 1.6 here against about
    # 4.8 for y) would make mmd2(x, y) and mmd2(y, x) differ by far more than round-off.
    x = torch.randn(3000, 2, generator=gen)
    y = 3.0 * torch.randn(2500, 2, generator=gen)
    assert mmd2_unbiased(x, y) == pytest.approx(mmd2_unbiased(y, x), rel=1e-9)
    assert abs(mmd2_unbiased(x, y, bandwidth=1.6) - mmd2_unbiased(x, y, bandwidth=4.8)) > 0.05
