"""The shared training loop."""

import math

import pytest
import torch
from torch import nn

from tutorial_lib.train import NonFiniteLossError, TrainConfig, fit, run_loop
from tutorial_lib.utils import get_device, seed_everything


def test_fit_recovers_a_mean(gen):
    data = torch.randn(512, 2, generator=gen) + torch.tensor([3.0, -1.0])
    model = nn.Linear(1, 2, bias=True)  # the bias is the estimate of the mean
    loss = lambda m, x: ((x - m.bias) ** 2).sum(1).mean()  # noqa: E731
    hist = fit(model, loss, data, TrainConfig(steps=400, batch_size=64, lr=0.05, progress=False))
    assert len(hist.loss) == 400 and hist.loss[-1] < hist.loss[0]
    assert torch.allclose(model.bias.detach(), data.mean(0), atol=0.1)


def test_fit_with_sampler_and_validation_restores_best(gen):
    model = nn.Linear(1, 1)
    calls = []

    def val_fn(m):
        calls.append(float(m.bias))
        return abs(float(m.bias) - 1.0)

    sampler = lambda n, g: torch.ones(n, 1)  # noqa: E731
    hist = fit(
        model,
        lambda m, x: ((x - m.bias) ** 2).mean(),
        sampler,
        TrainConfig(steps=50, batch_size=8, lr=0.1, val_every=10, progress=False),
        val_fn=val_fn,
    )
    assert [s for s, _ in hist.val] == [10, 20, 30, 40, 50]
    best = min(hist.val, key=lambda t: t[1])
    assert hist.best_step == best[0]
    assert abs(abs(float(model.bias.detach()) - 1.0) - best[1]) < 1e-6  # best parameters restored


def test_nan_loss_names_the_step():
    model = nn.Linear(1, 1)
    bad = lambda m, x: (m.weight.sum() * 0 + (math.inf if x.sum() > 0 else 1.0))  # noqa: E731
    with pytest.raises(NonFiniteLossError, match="at step 0"):
        fit(model, bad, torch.ones(10, 1), TrainConfig(steps=5, batch_size=2, progress=False))


def test_run_loop_catches_nan_at_the_right_step():
    with pytest.raises(NonFiniteLossError, match="d_loss became nan at step 3"):
        run_loop(lambda i: {"d_loss": float("nan") if i == 3 else 1.0}, 10, progress=False)


def test_bad_config():
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0, batch_size=1)
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(steps=1, batch_size=1, lr=0)
    with pytest.raises(ValueError, match="data must be"):
        fit(nn.Linear(1, 1), lambda m, x: x.sum(), [1, 2, 3], TrainConfig(steps=1, batch_size=1, progress=False))


def test_utils():
    g1 = seed_everything(3)
    a = torch.rand(3)
    g2 = seed_everything(3)
    assert torch.equal(a, torch.rand(3)) and torch.equal(torch.rand(2, generator=g1), torch.rand(2, generator=g2))
    assert get_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="prefer must be one of"):
        get_device("tpu")
    with pytest.raises(ValueError, match="seed"):
        seed_everything(-1)
