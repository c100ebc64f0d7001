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


def test_nll_and_bits():
    normal = torch.distributions.Normal(0.0, 1.0)
    x = torch.zeros(10, 1)
    assert average_nll(lambda v: normal.log_prob(v).sum(1), x) == pytest.approx(0.5 * math.log(2 * math.pi))
    assert bits_per_dim(64 * math.log(2), 64) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        bits_per_dim(1.0, 0)
