r"""The velocity network, the flow-matching loss, and the continuous flow it defines.

A :class:`VelocityField` :math:`v_\theta(t, x)` is trained by regressing the
conditional velocity of a path (:func:`cfm_loss`); the ODE
:math:`\dot x = v_\theta(t, x)` from :math:`t = 0` (noise) to :math:`t = 1` (data) is
then a flow. :class:`ContinuousFlow` samples by solving it forward and computes the
exact log-density by solving it backward with the instantaneous change of variables
:math:`\frac{d}{dt}\log p_t(x_t) = -\operatorname{tr}\frac{\partial v}{\partial x}`
(Chen et al. 2018, arXiv:1806.07366; Grathwohl et al. 2019, arXiv:1810.01367), the
trace computed exactly by autograd (:func:`~tutorial_lib.flows.ode_log_prob`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..flows import ODE_METHODS, Transform, nfe, ode_log_prob, odeint
from ..nn import ACTIVATIONS, activation_module, mlp
from .paths import CondOTPath, GaussianPath, VPPath

__all__ = [
    "FMConfig",
    "PATHS",
    "NETS",
    "VelocityField",
    "ConvVelocityField",
    "velocity_field",
    "build_path",
    "sample_times",
    "cfm_loss",
    "ContinuousFlow",
    "standard_normal_log_prob",
]

#: Path names accepted by :class:`FMConfig`.
PATHS = ("cond-ot", "vp")

#: Velocity networks accepted by :class:`FMConfig`: :class:`VelocityField` (``"mlp"``)
#: and :class:`ConvVelocityField` (``"conv"``, square images).
NETS = ("mlp", "conv")


@dataclass(frozen=True)
class FMConfig:
    """A flow-matching model: the velocity network (``net``: an MLP of ``hidden``
    units in ``depth`` hidden layers, with ``space_freqs`` octaves of Fourier features
    of the position from frequency ``space_base``, or a convolutional network of
    ``hidden`` channels in ``depth`` residual blocks; ``activation``; ``freqs`` time
    frequencies), the probability path (``path``, ``sigma_min`` of the cond-OT path),
    the training times ``times`` (see :func:`sample_times`) and the ODE solver used to
    sample and to evaluate likelihoods (``method`` with ``steps`` fixed steps)."""

    hidden: int = 128
    depth: int = 3
    activation: str = "gelu"
    freqs: int = 3
    net: str = "mlp"
    space_freqs: int = 0
    space_base: float = math.pi / 4
    path: str = "cond-ot"
    sigma_min: float = 0.0
    times: tuple[float, float] | None = None
    method: str = "rk4"
    steps: int = 50

    def __post_init__(self) -> None:
        for name in ("hidden", "depth", "freqs", "steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {ACTIVATIONS}, got {self.activation!r}"
            )
        if self.path not in PATHS:
            raise ValueError(f"path must be one of {PATHS}, got {self.path!r}")
        if self.net not in NETS:
            raise ValueError(f"net must be one of {NETS}, got {self.net!r}")
        _check_space(self.space_freqs, self.space_base)
        if self.net == "conv" and self.space_freqs:
            raise ValueError(
                "space_freqs must be 0 for net='conv' (Fourier features of the "
                f"position belong to the MLP), got {self.space_freqs!r}"
            )
        if not 0 <= self.sigma_min < 1:
            raise ValueError(f"sigma_min must be in [0, 1), got {self.sigma_min}")
        if self.method not in ODE_METHODS:
            raise ValueError(
                f"method must be one of {ODE_METHODS}, got {self.method!r}"
            )
        _check_times(self.times)


def _check_space(space_freqs: object, space_base: object) -> None:
    if (
        not isinstance(space_freqs, int)
        or isinstance(space_freqs, bool)
        or space_freqs < 0
    ):
        raise ValueError(f"space_freqs must be an int >= 0, got {space_freqs!r}")
    if (
        not isinstance(space_base, (int, float))
        or isinstance(space_base, bool)
        or not math.isfinite(space_base)
        or space_base <= 0
    ):
        raise ValueError(f"space_base must be a finite number > 0, got {space_base!r}")


def _check_times(times: object) -> None:
    if times is None:
        return
    if (
        not isinstance(times, tuple)
        or len(times) != 2
        or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in times)
        or not times[1] > 0
    ):
        raise ValueError(
            f"times must be None or a (mean, std) pair of finite numbers with "
            f"std > 0, got {times!r}"
        )


def sample_times(
    n: int,
    times: tuple[float, float] | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    r"""``n`` training times ``(n,)`` from the global generator: uniform on [0, 1]
    when ``times`` is None, else logit-normal,
    :math:`t = \operatorname{sigmoid}(m + s\,\varepsilon)`,
    :math:`\varepsilon \sim \mathcal N(0, 1)`, with ``times = (m, s)`` (Esser et
    al. 2024, arXiv:2403.03206). Every time still has positive density, so the loss
    keeps the minimiser of :func:`cfm_loss`, the marginal velocity; ``m > 0`` spends
    more of the batch near the data end, where a sharp density needs a sharp field."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    _check_times(times)
    if times is None:
        return torch.rand(n, dtype=dtype, device=device)
    mean, std = times
    return torch.sigmoid(mean + std * torch.randn(n, dtype=dtype, device=device))


def build_path(config: FMConfig) -> GaussianPath:
    """The path named by ``config.path``."""
    if not isinstance(config, FMConfig):
        raise ValueError(f"config must be an FMConfig, got {type(config).__name__}")
    return CondOTPath(config.sigma_min) if config.path == "cond-ot" else VPPath()


def _time_features(t: Tensor | float, x: Tensor, freqs: Tensor) -> Tensor:
    """``(n, 2F)``: :math:`(\\cos k\\pi t, \\sin k\\pi t)_k` for one time or one per row
    of ``x``."""
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device).reshape(-1, 1)
    if t.shape[0] not in (1, x.shape[0]):
        raise ValueError(f"t must be one time or one per row, got {t.shape[0]}")
    angle = t.expand(x.shape[0], 1) * freqs  # (n, F)
    return torch.cat([angle.cos(), angle.sin()], 1)


class VelocityField(nn.Module):
    r""":math:`v_\theta(t, x)`: an MLP (:func:`tutorial_lib.nn.mlp`) on :math:`x` and
    the time features :math:`(\cos k\pi t, \sin k\pi t)_{k=1..F}` (the time embedding
    of ``zuko``'s CNF). With ``space_freqs`` :math:`= K > 0` the input also has the
    Fourier features :math:`\sin(2^j\omega x_i), \cos(2^j\omega x_i)`,
    :math:`j = 0..K-1`, :math:`\omega` = ``space_base``, of every coordinate (Tancik et
    al. 2020, arXiv:2006.10739), which let a small MLP draw sharp edges."""

    def __init__(
        self,
        dim: int,
        hidden: int = 128,
        depth: int = 3,
        activation: str = "gelu",
        freqs: int = 3,
        space_freqs: int = 0,
        space_base: float = math.pi / 4,
    ):
        super().__init__()
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be an int >= 1, got {dim!r}")
        if not isinstance(freqs, int) or freqs < 1:
            raise ValueError(f"freqs must be an int >= 1, got {freqs!r}")
        _check_space(space_freqs, space_base)
        self.dim = dim
        width = dim * (1 + 2 * space_freqs) + 2 * freqs
        self.net = mlp(width, dim, hidden, depth, activation)
        self.register_buffer("freqs", torch.arange(1, freqs + 1) * math.pi)
        self.register_buffer(
            "space", space_base * 2.0 ** torch.arange(space_freqs, dtype=torch.float32)
        )

    @classmethod
    def from_config(cls, config: FMConfig, dim: int) -> VelocityField:
        """The MLP of ``config`` for ``dim`` features."""
        if not isinstance(config, FMConfig):
            raise ValueError(f"config must be an FMConfig, got {type(config).__name__}")
        return cls(
            dim,
            config.hidden,
            config.depth,
            config.activation,
            config.freqs,
            config.space_freqs,
            config.space_base,
        )

    def forward(self, t: Tensor | float, x: Tensor) -> Tensor:
        """Velocities ``(n, dim)`` at points ``x`` ``(n, dim)`` and time ``t`` (a
        number, a 0-dim tensor, or one time per row)."""
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (n, {self.dim}), got {tuple(x.shape)}")
        time = _time_features(t, x, self.freqs)
        if self.space.numel() == 0:
            return self.net(torch.cat([x, time], 1))
        angle = (x[:, :, None] * self.space.to(x.dtype)).flatten(1)  # (n, dim K)
        return self.net(torch.cat([x, angle.sin(), angle.cos(), time], 1))


class ConvVelocityField(nn.Module):
    r""":math:`v_\theta(t, x)` for square images flattened to ``dim`` pixels: a 3x3
    convolution of the image and the time features into ``channels`` maps, plus a
    learned embedding of each position (a convolution alone cannot tell the border,
    where digits have no ink, from the centre); ``blocks`` residual blocks
    :math:`h \leftarrow h + a(\mathrm{conv}(h + W_b\,\tau(t)))`, each adding its own
    linear map of the time features :math:`\tau(t)`; a 3x3 convolution to one map.
    On the digits it is the flow-matching chapter's network (see that chapter for
    its bound)."""

    def __init__(
        self,
        dim: int,
        channels: int = 32,
        blocks: int = 4,
        activation: str = "gelu",
        freqs: int = 3,
    ):
        super().__init__()
        side = math.isqrt(dim) if isinstance(dim, int) and dim > 0 else 0
        if isinstance(dim, bool) or side < 2 or side * side != dim:
            raise ValueError(f"dim must be a square int >= 4 (pixels), got {dim!r}")
        for name, value in (("channels", channels), ("blocks", blocks), ("freqs", freqs)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        self.dim, self.side = dim, side
        self.stem = nn.Conv2d(1 + 2 * freqs, channels, 3, padding=1)
        self.blocks = nn.ModuleList(
            nn.Conv2d(channels, channels, 3, padding=1) for _ in range(blocks)
        )
        self.time = nn.ModuleList(nn.Linear(2 * freqs, channels) for _ in range(blocks))
        self.out = nn.Conv2d(channels, 1, 3, padding=1)
        self.position = nn.Parameter(torch.zeros(1, channels, side, side))
        self.act = activation_module(activation)
        self.register_buffer("freqs", torch.arange(1, freqs + 1) * math.pi)

    @classmethod
    def from_config(cls, config: FMConfig, dim: int) -> ConvVelocityField:
        """The convolutional network of ``config`` (``hidden`` channels, ``depth``
        blocks) for images of ``dim`` pixels."""
        if not isinstance(config, FMConfig):
            raise ValueError(f"config must be an FMConfig, got {type(config).__name__}")
        return cls(dim, config.hidden, config.depth, config.activation, config.freqs)

    def forward(self, t: Tensor | float, x: Tensor) -> Tensor:
        """Velocities ``(n, dim)`` at images ``x`` ``(n, dim)`` and time ``t`` (a
        number, a 0-dim tensor, or one time per row)."""
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (n, {self.dim}), got {tuple(x.shape)}")
        n, s = x.shape[0], self.side
        time = _time_features(t, x, self.freqs)
        maps = time[:, :, None, None].expand(n, time.shape[1], s, s)
        h = self.act(self.stem(torch.cat([x.view(n, 1, s, s), maps], 1)) + self.position)
        for conv, proj in zip(self.blocks, self.time):
            h = h + self.act(conv(h + proj(time)[:, :, None, None]))
        return self.out(h).view(n, self.dim)


def velocity_field(config: FMConfig, dim: int) -> nn.Module:
    """The velocity network that ``config.net`` names, for ``dim`` features."""
    if not isinstance(config, FMConfig):
        raise ValueError(f"config must be an FMConfig, got {type(config).__name__}")
    if config.net == "conv":
        return ConvVelocityField.from_config(config, dim)
    return VelocityField.from_config(config, dim)


def cfm_loss(
    model: nn.Module,
    x1: Tensor,
    path: GaussianPath,
    t: Tensor | None = None,
    x0: Tensor | None = None,
    times: tuple[float, float] | None = None,
) -> Tensor:
    r"""The conditional flow-matching loss
    :math:`\mathbb E\,\|v_\theta(t, x_t) - u_t\|^2` on a batch of data ``x1``
    ``(n, d)``, summed over coordinates and averaged over the batch. ``t`` ``(n,)``
    (:func:`sample_times` with ``times``: uniform on [0, 1] by default) and then
    ``x0`` ``(n, d)`` (standard normal) are drawn from the global generator on
    ``x1``'s device unless given."""
    if not isinstance(x1, Tensor) or x1.dim() != 2 or x1.shape[0] == 0:
        raise ValueError(f"x1 must be a non-empty (n, d) tensor, got {x1!r}")
    if not isinstance(path, GaussianPath):
        raise ValueError(f"path must be a GaussianPath, got {type(path).__name__}")
    if t is None:
        t = sample_times(x1.shape[0], times, dtype=x1.dtype, device=x1.device)
    if x0 is None:
        x0 = torch.randn_like(x1)
    xt = path.sample(x1, t, x0)
    target = path.conditional_velocity(x1, t, x0)
    return (model(t, xt) - target).pow(2).sum(1).mean()


def standard_normal_log_prob(z: Tensor) -> Tensor:
    r""":math:`\log\mathcal N(z; 0, I)` per row ``(n,)`` of ``z`` ``(n, d)``."""
    if not isinstance(z, Tensor) or z.dim() != 2:
        raise ValueError(f"z must be an (n, d) tensor, got {getattr(z, 'shape', z)}")
    return -0.5 * z.pow(2).sum(1) - 0.5 * z.shape[1] * math.log(2 * math.pi)


class ContinuousFlow(nn.Module):
    r"""The flow of a velocity field: noise at :math:`t = 0`, data at :math:`t = 1`,
    an optional fixed ``preprocess`` :class:`~tutorial_lib.flows.Transform` between the
    data and the ODE's space (its ``forward`` maps data to that space).

    ``log_prob(x)`` solves the ODE from :math:`t = 1` back to :math:`t = 0` with the
    exact divergence, ``sample(n, generator)`` solves it forward; both use ``method``
    with ``steps`` fixed steps (change them with :meth:`with_solver`)."""

    def __init__(
        self,
        velocity: nn.Module,
        dim: int,
        method: str = "rk4",
        steps: int = 50,
        preprocess: Transform | None = None,
    ):
        super().__init__()
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be an int >= 1, got {dim!r}")
        if method not in ODE_METHODS:
            raise ValueError(f"method must be one of {ODE_METHODS}, got {method!r}")
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be an int >= 1, got {steps!r}")
        if preprocess is not None and not isinstance(preprocess, Transform):
            raise ValueError("preprocess must be None or a flows.Transform")
        self.velocity, self.dim = velocity, dim
        self.method, self.steps, self.preprocess = method, steps, preprocess

    def with_solver(self, method: str, steps: int) -> ContinuousFlow:
        """The same velocity field (shared, not copied) with another solver."""
        return ContinuousFlow(self.velocity, self.dim, method, steps, self.preprocess)

    @property
    def nfe(self) -> int:
        """Velocity evaluations per ODE solve."""
        return nfe(self.method, self.steps)

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log-density ``(n,)`` of the flow at data points ``x`` ``(n, dim)``
        (up to the ODE solver's error)."""
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (n, {self.dim}), got {tuple(x.shape)}")
        logdet = x.new_zeros(x.shape[0])
        if self.preprocess is not None:
            x, logdet = self.preprocess(x)
        log_p, _ = ode_log_prob(
            self.velocity,
            x,
            1.0,
            0.0,
            self.steps,
            standard_normal_log_prob,
            method=self.method,
        )
        return log_p + logdet

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples ``(n, dim)``: noise from ``generator`` (on the CPU) pushed
        through the ODE from t = 0 to t = 1."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an int >= 1, got {n!r}")
        p = next(self.velocity.parameters())
        z = torch.randn(n, self.dim, generator=generator, dtype=p.dtype).to(p.device)
        x = odeint(self.velocity, z, 0.0, 1.0, self.steps, method=self.method)
        return x if self.preprocess is None else self.preprocess.inverse(x)
