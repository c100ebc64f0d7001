"""The closing chapter's recipes: farthest-point starts, the mixture fitted by gradient
against EM, zuko's NSF trained by the flows recipe, and the adaptive solver against the
exact log-density of the flow-matching ODE."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from bad_arguments import BadArg

from tutorial_lib.chapters import flows_2d
from tutorial_lib.chapters.road_ahead import (
    CONFIG,
    RoadAheadConfig,
    ZukoFlow,
    farthest_points,
    fit_mixtures,
    solver_comparison,
    train_zuko_nsf,
    zuko_nsf,
)
from tutorial_lib.data import get_density


def test_farthest_points_start_one_point_in_every_mode():
    density = get_density("8gaussians")
    x = density.sample(2000, torch.Generator().manual_seed(0))
    starts = farthest_points(x, 8)
    nearest = torch.cdist(starts, density.means.to(starts)).argmin(1)
    assert sorted(nearest.tolist()) == list(range(8))
    # the traversal's defining property: each new point is the farthest from the others
    for i in range(1, 8):
        d = torch.cdist(x, starts[:i]).min(1).values
        assert torch.isclose(d.max(), torch.cdist(starts[i : i + 1], starts[:i]).min())


def test_gradient_mixture_from_farthest_starts_matches_em():
    config = dataclasses.replace(
        CONFIG,
        n_train=1000,
        n_test=2000,
        sgd=dataclasses.replace(CONFIG.sgd, steps=400, batch_size=1000),
    )
    fits = fit_mixtures(config)
    assert fits.covered_farthest == 8
    assert abs(fits.sgd_farthest - fits.em) < 0.01
    # a gap estimates KL(p || q) >= 0, up to the Monte Carlo error of 2,000 points
    assert min(fits.em, fits.sgd_farthest, fits.sgd_random) > -0.01
    # the Monte Carlo entropy is close to the exact one of the mixture (about 2.82)
    assert 2.7 < fits.entropy < 2.95


def test_zuko_nsf_trains_with_the_flows_recipe():
    flows = dataclasses.replace(
        flows_2d.CONFIG, train=dataclasses.replace(flows_2d.CONFIG.train, steps=20)
    )
    flow, history = train_zuko_nsf(CONFIG, flows)
    assert isinstance(flow, ZukoFlow) and len(history.loss) == 20
    x = get_density(CONFIG.zuko_dataset).sample(64, torch.Generator().manual_seed(1))
    log_q = flow.log_prob(x.float())
    assert log_q.shape == (64,) and torch.isfinite(log_q).all()
    assert flow.sample(5).shape == (5, 2)
    assert len(zuko_nsf(None).flow.transform.transforms) == 3  # zuko's defaults


def test_solvers_approach_the_exact_log_density():
    config = dataclasses.replace(
        CONFIG, ode_points=200, tolerances=(1e-4, 1e-8), rk4_steps=(10, 40)
    )
    rows = solver_comparison(config)
    adaptive, fixed = rows[:2], rows[2:]
    assert (
        adaptive[0].max_error > adaptive[1].max_error and adaptive[1].max_error < 1e-5
    )
    assert adaptive[0].nfe < adaptive[1].nfe
    assert fixed[0].max_error > fixed[1].max_error and fixed[1].nfe == 160
    assert all(
        math.isfinite(r.mean_error) and r.mean_error <= r.max_error for r in rows
    )


@pytest.mark.parametrize("name", ["components", "ode_points"])
def test_config_rejects_bad_counts(name):
    with pytest.raises(ValueError, match=name):
        RoadAheadConfig(**{name: 0})


BAD_ARGUMENTS = [
    BadArg(
        RoadAheadConfig, lambda: RoadAheadConfig(gmm_dataset="moons"), "gmm_dataset"
    ),
    BadArg(
        RoadAheadConfig, lambda: RoadAheadConfig(zuko_dataset="ring"), "zuko_dataset"
    ),
    BadArg(RoadAheadConfig, lambda: RoadAheadConfig(tolerances=(2.0,)), "tolerances"),
    BadArg(RoadAheadConfig, lambda: RoadAheadConfig(rk4_steps=(0,)), "rk4_steps"),
    BadArg(farthest_points, lambda: farthest_points(torch.zeros(3, 2), 0), "k"),
    BadArg(farthest_points, lambda: farthest_points(torch.zeros(3), 1), "x"),
    BadArg(fit_mixtures, lambda: fit_mixtures("default"), "config"),
    BadArg(ZukoFlow, lambda: ZukoFlow("nsf"), "flow"),
    BadArg(zuko_nsf, lambda: zuko_nsf("spline"), "spline"),
    BadArg(zuko_nsf, lambda: zuko_nsf(None, features=0), "features"),
    BadArg(train_zuko_nsf, lambda: train_zuko_nsf(CONFIG, flows="flows"), "flows"),
    BadArg(solver_comparison, lambda: solver_comparison(None), "config"),
]
