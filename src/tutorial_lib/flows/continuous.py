r"""Continuous flows: fixed-step ODE solvers and the instantaneous change of variables.

A velocity field :math:`v(t, x)` defines a flow :math:`\dot x = v(t, x)`. Along a
trajectory the log-density of the transported distribution changes as

.. math::
    \frac{d}{dt} \log p_t(x(t)) = -\operatorname{tr}
        \frac{\partial v}{\partial x}(t, x(t))

(Chen et al. 2018, arXiv:1806.07366; Grathwohl et al. 2019, arXiv:1810.01367), so
integrating from the data time :math:`t_d` to the base time :math:`t_b` gives

.. math::
    \log p_{t_d}(x) = \log p_{t_b}(z)
        + \int_{t_d}^{t_b} \operatorname{tr}
        \frac{\partial v}{\partial x}\, dt .

Both directions of time work: flow matching puts noise at 0 and data at 1, a diffusion
model's probability-flow ODE puts data at 0 and noise at 1. The trace here is exact
(one vector-Jacobian product per dimension), not a stochastic estimate; the
solvers are fixed-step, so the number of velocity evaluations (:func:`nfe`) is known in
advance. Everything runs without building a graph: these functions evaluate a trained
field, they do not train it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["ODE_METHODS", "nfe", "odeint", "divergence", "ode_log_prob"]

Velocity = Callable[[Tensor, Tensor], Tensor]

# Butcher tableaux of the explicit fixed-step methods: (stage nodes c, stage matrix a,
# weights b). Euler: one evaluation per step; midpoint: two; classical Runge-Kutta: four.
_TABLEAUX: dict[str, tuple[tuple[float, ...], tuple[tuple[float, ...], ...], tuple[float, ...]]]
_TABLEAUX = {
    "euler": ((0.0,), ((),), (1.0,)),
    "midpoint": ((0.0, 0.5), ((), (0.5,)), (0.0, 1.0)),
    "rk4": (
        (0.0, 0.5, 0.5, 1.0),
        ((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
        (1 / 6, 1 / 3, 1 / 3, 1 / 6),
    ),
}
ODE_METHODS = tuple(_TABLEAUX)


def _check_method(method: str) -> None:
    if method not in _TABLEAUX:
        raise ValueError(f"method must be one of {ODE_METHODS}, got {method!r}")


def _check_steps(steps: int) -> None:
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")


def _check_x(x: Tensor) -> None:
    if not isinstance(x, Tensor) or x.dim() != 2:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"x must be a tensor of shape (n, d), got {shape}")


def nfe(method: str, steps: int) -> int:
    """The number of velocity evaluations of one solve: stages per step times steps."""
    _check_method(method)
    _check_steps(steps)
    return len(_TABLEAUX[method][0]) * steps


def _solve(
    rhs: Callable[[Tensor, tuple[Tensor, ...]], tuple[Tensor, ...]],
    state: tuple[Tensor, ...],
    t0: float,
    t1: float,
    steps: int,
    method: str,
) -> tuple[Tensor, ...]:
    """Integrate a tuple-valued ODE with an explicit Runge-Kutta tableau."""
    c, a, b = _TABLEAUX[method]
    h = (t1 - t0) / steps
    dtype, device = state[0].dtype, state[0].device

    def combine(base: tuple[Tensor, ...], weights, stages) -> tuple[Tensor, ...]:
        out = list(base)
        for w, stage in zip(weights, stages):
            if w != 0.0:
                out = [o + (h * w) * s for o, s in zip(out, stage)]
        return tuple(out)

    for k in range(steps):
        t = t0 + k * h
        stages: list[tuple[Tensor, ...]] = []
        for ci, ai in zip(c, a):
            tt = torch.tensor(t + ci * h, dtype=dtype, device=device)
            stages.append(rhs(tt, combine(state, ai, stages)))
        state = combine(state, b, stages)
    return state


@torch.no_grad()
def odeint(
    velocity: Velocity,
    x: Tensor,
    t0: float,
    t1: float,
    steps: int,
    method: str = "rk4",
) -> Tensor:
    """Solve :math:`\\dot x = v(t, x)` from ``t0`` to ``t1`` in ``steps`` equal steps.

    ``velocity(t, x)`` receives ``t`` as a 0-dim tensor and ``x`` of shape ``(n, d)``.
    ``t1 < t0`` integrates backwards in time.
    """
    _check_x(x)
    _check_steps(steps)
    _check_method(method)
    (out,) = _solve(lambda t, y: (velocity(t, y[0]),), (x,), t0, t1, steps, method)
    return out


def divergence(velocity: Velocity, t: Tensor, x: Tensor) -> Tensor:
    r"""The exact divergence :math:`\operatorname{tr}\, \partial v / \partial x`, one value
    per row of ``x``.

    One vector-Jacobian product per dimension: the gradient of :math:`\sum_n v_i(x_n)`
    with respect to ``x`` has :math:`\partial v_i / \partial x_i` at row ``n``, column
    ``i``, because the rows of ``x`` must not interact inside ``velocity`` (no batch
    statistics). On CPU this loop was faster than a batched product
    (``is_grads_batched``) for the book's sizes.
    """
    _check_x(x)
    return _velocity_and_divergence(velocity, t, x)[1]


def _velocity_and_divergence(
    velocity: Velocity, t: Tensor, x: Tensor
) -> tuple[Tensor, Tensor]:
    d = x.shape[1]
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        v = velocity(t, xg)
        if v.shape != xg.shape:
            raise ValueError(
                f"velocity must return the shape of x, {tuple(xg.shape)}, "
                f"got {tuple(v.shape)}"
            )
        div = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for i in range(d):
            (g,) = torch.autograd.grad(v[:, i].sum(), xg, retain_graph=i < d - 1)
            div = div + g[:, i]
    return v.detach(), div.detach()


@torch.no_grad()
def ode_log_prob(
    velocity: Velocity,
    x: Tensor,
    t_data: float,
    t_base: float,
    steps: int,
    base_log_prob: Callable[[Tensor], Tensor],
    method: str = "rk4",
) -> tuple[Tensor, Tensor]:
    r"""The log-density at ``x`` of the flow's distribution at time ``t_data``.

    Integrates :math:`x` and :math:`\int \operatorname{tr}\,\partial v/\partial x\, dt`
    together from ``t_data`` to ``t_base`` and returns
    ``(base_log_prob(z) + integral, z)``, where ``z`` is the end point at ``t_base``.
    """
    _check_x(x)
    _check_steps(steps)
    _check_method(method)
    if t_data == t_base:
        raise ValueError("t_data and t_base must differ")

    def rhs(t: Tensor, y: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        return _velocity_and_divergence(velocity, t, y[0])

    zero = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    z, integral = _solve(rhs, (x, zero), t_data, t_base, steps, method)
    return base_log_prob(z) + integral, z
