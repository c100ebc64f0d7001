r"""The book's 2-D densities, each with ``sample`` and an exact ``log_prob``.

The toy set is the one of FFJORD's ``lib/toy_data.py`` (Grathwohl et al. 2019,
arXiv:1810.01367): ``8gaussians``, ``checkerboard``, ``moons``, ``circles``, ``rings``,
``2spirals`` and ``pinwheel``. Each is written here as a *density*, not only a sampler:
``log_prob`` is exact where a closed form exists and otherwise computed by numerical
quadrature or root finding to far better than :math:`10^{-3}` nats, so that the true
entropy :math:`H(p) = -\mathbb{E}_p \log p(x)` is known and any model's expected
test NLL can be compared with it (``NLL - H(p)`` estimates
:math:`\mathrm{KL}(p\,\|\,q)`).
Where FFJORD places points on an evenly spaced grid of angles (``circles``, ``rings``,
``moons``), the density takes the angle uniform on the same range: the continuous
distribution that the grid discretises.

The GAN mixtures ``ring`` and ``grid`` follow PacGAN (Lin et al. 2018,
arXiv:1712.04086).
"""

from __future__ import annotations

import math
from types import MappingProxyType

import torch
from torch import Tensor
from torch.distributions import Normal

from .density import LOG2PI as _LOG2PI
from .density import Density2D, GaussianMixture2D, _rand, _randint, _randn
from .density import gauss_legendre as _gauss_legendre

__all__ = ["DENSITY_NAMES", "get_density", "check_density_names"]


def _log_ring(rho: Tensor, radius: float, sigma: float) -> Tensor:
    r"""Log-density at distance ``rho`` from the origin of a point uniform on the circle
    of ``radius`` plus :math:`\mathcal N(0,\sigma^2 I)` noise:
    :math:`\frac{1}{2\pi\sigma^2} e^{-(\rho-r)^2/2\sigma^2}\,
    \tilde I_0(\rho r/\sigma^2)`,
    with :math:`\tilde I_0` the exponentially scaled Bessel function."""
    s2 = sigma**2
    return (
        -math.log(2 * math.pi * s2)
        - (rho - radius) ** 2 / (2 * s2)
        + torch.log(torch.special.i0e(rho * radius / s2))
    )


class Rings(Density2D):
    """Equal mixture of noisy circles (``circles``: radii 3 and 1.5, noise 0.24;
    ``rings``: radii 3, 2.25, 1.5, 0.75, noise 0.08)."""

    def __init__(self, name: str, radii: tuple[float, ...], sigma: float):
        self.name, self.radii, self.sigma = name, radii, sigma

    def _sample(self, n, generator):
        radii = torch.tensor(self.radii, dtype=torch.float64)
        r = radii[_randint(len(self.radii), n, generator)]
        t = 2 * math.pi * _rand((n,), generator)
        noise = self.sigma * _randn((n, 2), generator)
        return torch.stack([r * t.cos(), r * t.sin()], 1) + noise

    def _log_prob(self, x):
        rho = x.norm(dim=1)
        parts = torch.stack([_log_ring(rho, r, self.sigma) for r in self.radii], 1)
        return torch.logsumexp(parts, 1) - math.log(len(self.radii))


class Checkerboard(Density2D):
    """Uniform on the 8 dark squares of side 2 of a 4x4 board covering ``[-4, 4]^2``."""

    name = "checkerboard"

    def _sample(self, n, generator):
        x1 = 4 * _rand((n,), generator) - 2
        x2 = _rand((n,), generator) - 2 * _randint(2, n, generator).to(torch.float64)
        x2 = x2 + torch.floor(x1) % 2
        return 2 * torch.stack([x1, x2], 1)

    def _log_prob(self, x):
        u = x / 2  # back to the [-2, 2]^2 board of unit squares
        inside = (u.abs() < 2).all(1)
        dark = (torch.floor(u[:, 0]) + torch.floor(u[:, 1])) % 2 == 0
        out = torch.full((x.shape[0],), -math.inf, dtype=torch.float64)
        out[inside & dark] = -math.log(32.0)
        return out


class Moons(Density2D):
    r"""Two interleaved half circles (scikit-learn's ``make_moons`` with noise 0.1),
    scaled by 2 and shifted by :math:`(-1, -0.2)`: the angle :math:`t` is uniform on
    :math:`[0, \pi]` and the noise is :math:`\mathcal N(0, 0.2^2 I)` after scaling.
    ``log_prob`` integrates over :math:`t` by Gauss-Legendre quadrature."""

    name = "moons"
    sigma = 0.2

    @staticmethod
    def _centres(t: Tensor) -> Tensor:  # (..., 2, 2): [arc, coordinate]
        upper = torch.stack([2 * t.cos() - 1, 2 * t.sin() - 0.2], -1)
        lower = torch.stack([1 - 2 * t.cos(), 0.8 - 2 * t.sin()], -1)
        return torch.stack([upper, lower], -2)

    def _sample(self, n, generator):
        t = math.pi * _rand((n,), generator)
        arc = _randint(2, n, generator)
        c = self._centres(t)[torch.arange(n), arc]
        return c + self.sigma * _randn((n, 2), generator)

    def _log_prob(self, x, panels: int = 16, order: int = 8):
        t, w = _gauss_legendre(0.0, math.pi, panels, order)
        c = self._centres(t)  # (T, 2 arcs, 2)
        out = []
        for xb in x.split(4096):
            d2 = ((xb[:, None, None, :] - c[None]) ** 2).sum(-1)  # (B, T, 2)
            logn = -_LOG2PI - 2 * math.log(self.sigma) - d2 / (2 * self.sigma**2)
            lw = (w / math.pi / 2).log()[None, :, None]
            out.append(torch.logsumexp((logn + lw).reshape(xb.shape[0], -1), 1))
        return torch.cat(out)


class TwoSpirals(Density2D):
    r"""FFJORD's ``2spirals``: for :math:`n = 3\pi\sqrt{u}`, :math:`u \sim U(0,1)`, the
    point :math:`\pm\tfrac13(-n\cos n + a/2,\; n\sin n + b/2)` with
    :math:`a, b \sim U(0,1)`, plus :math:`\mathcal N(0, 0.1^2 I)` noise.
    The uniform offsets convolved with the noise are integrated in closed form (a
    difference of normal CDFs); the remaining integral over :math:`u` uses composite
    Gauss-Legendre quadrature."""

    name = "2spirals"
    sigma = 0.1

    def _sample(self, n, generator):
        m = n // 2
        s = 3 * math.pi * _rand((m, 1), generator).sqrt()
        d1x = -s.cos() * s + 0.5 * _rand((m, 1), generator)
        d1y = s.sin() * s + 0.5 * _rand((m, 1), generator)
        arm = torch.cat([d1x, d1y], 1)
        x = torch.cat([arm, -arm], 0) / 3
        if n - 2 * m:  # odd n: one more point from a random arm
            extra = self._sample(2, generator)[_randint(2, 1, generator)]
            return torch.cat([x + self.sigma * _randn(x.shape, generator), extra], 0)
        return x + self.sigma * _randn(x.shape, generator)

    def _log_prob(self, x, panels: int = 40, order: int = 24):
        u, w = _gauss_legendre(0.0, 1.0, panels, order)
        s = 3 * math.pi * u.sqrt()
        # (U, 2): lower corner of the offset box, + arm
        lo = torch.stack([-s.cos() * s, s.sin() * s], -1) / 3
        width = 0.5 / 3
        zero = torch.tensor(0.0, dtype=torch.float64)
        normal = Normal(zero, torch.tensor(self.sigma, dtype=torch.float64))
        lw = w.log()
        out = []
        for xb in x.split(2048):
            terms = []
            for sign in (1.0, -1.0):
                a = sign * lo  # corner of the offset box for this arm
                b = a + sign * width
                lo_, hi_ = torch.minimum(a, b), torch.maximum(a, b)
                d = xb[:, None, :]  # (B, 1, 2)
                # (B, U, 2): the noise's mass over the offset box, per coordinate
                diff = normal.cdf(d - lo_[None]) - normal.cdf(d - hi_[None])
                logg = torch.log(diff.clamp_min(1e-300)) - math.log(width)
                terms.append(logg.sum(-1) + lw)
            out.append(torch.logsumexp(torch.cat(terms, 1), 1) - math.log(2))
        return torch.cat(out)


class Pinwheel(Density2D):
    r"""FFJORD's ``pinwheel``: :math:`f_0 \sim \mathcal N(1, 0.3^2)`,
    :math:`f_1 \sim \mathcal N(0, 0.1^2)`, a class :math:`k \in \{0..4\}`, the angle
    :math:`\theta = 2\pi k/5 + \tfrac14 e^{f_0}`, and :math:`x = 2 R(-\theta) f`.
    The map :math:`f \mapsto R(-\theta(f_0)) f` has Jacobian determinant
    :math:`1 + \tfrac14 e^{f_0} f_1`; ``log_prob`` finds every preimage of a point
    (a root in the polar angle, bracketed on a fine grid, then bisected) and sums
    :math:`p(f)/|\det J|` over preimages and classes."""

    name = "pinwheel"
    classes, radial_std, tangential_std, rate = 5, 0.3, 0.1, 0.25

    def _sample(self, n, generator):
        f0 = 1 + self.radial_std * _randn((n,), generator)
        f1 = self.tangential_std * _randn((n,), generator)
        k = _randint(self.classes, n, generator).to(torch.float64)
        th = 2 * math.pi * k / self.classes + self.rate * f0.exp()
        rotated = [f0 * th.cos() + f1 * th.sin(), -f0 * th.sin() + f1 * th.cos()]
        return 2 * torch.stack(rotated, 1)

    def _log_prob(self, x, grid: int = 1024, iters: int = 45):
        y = x / 2
        out = []
        for yb in y.split(1024):
            out.append(self._log_prob_y(yb, grid, iters))
        return torch.cat(out) - math.log(4.0)  # x = 2y: |det| = 4

    def _g(self, alpha: Tensor, rho: Tensor, c: Tensor) -> Tensor:
        # zero exactly when alpha - theta(f0) - angle(y) is a multiple of 2*pi
        return torch.sin((alpha - self.rate * torch.exp(rho * alpha.cos()) - c) / 2)

    def _log_prob_y(self, y: Tensor, grid: int, iters: int) -> Tensor:
        b = y.shape[0]
        rho = y.norm(dim=1).clamp_min(1e-12)
        phi = torch.atan2(y[:, 1], y[:, 0])
        k = torch.arange(self.classes, dtype=torch.float64)
        c = (phi[:, None] + 2 * math.pi * k / self.classes)[:, :, None]  # (B, K, 1)
        r = rho[:, None, None]
        alpha = torch.linspace(0, 2 * math.pi, grid + 1, dtype=torch.float64)
        g = self._g(alpha, r, c)  # (B, K, grid + 1)
        change = (g[..., :-1] * g[..., 1:] <= 0) & (g[..., :-1] != g[..., 1:])
        ib, ik, ij = change.nonzero(as_tuple=True)
        lo, hi = alpha[ij], alpha[ij + 1]
        rr, cc = rho[ib], c[ib, ik, 0]
        glo = self._g(lo, rr, cc)
        for _ in range(iters):  # bisection on every bracket at once
            mid = (lo + hi) / 2
            gm = self._g(mid, rr, cc)
            left = glo * gm <= 0
            hi = torch.where(left, mid, hi)
            lo, glo = torch.where(left, lo, mid), torch.where(left, glo, gm)
        a = (lo + hi) / 2
        f0, f1 = rr * a.cos(), rr * a.sin()
        logp = (
            Normal(1.0, self.radial_std).log_prob(f0)
            + Normal(0.0, self.tangential_std).log_prob(f1)
            - torch.log(torch.abs(1 + self.rate * f0.exp() * f1))
            - math.log(self.classes)
        )
        m = torch.full((b,), -math.inf, dtype=torch.float64)
        m = m.scatter_reduce(0, ib, logp, "amax")  # largest term per point
        m_safe = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
        s = torch.zeros(b, dtype=torch.float64)
        s = s.index_add_(0, ib, torch.exp(logp - m_safe[ib]))
        return torch.log(s) + m_safe


def _eight_gaussians() -> GaussianMixture2D:
    d = 1 / math.sqrt(2)
    directions = [(1, 0), (-1, 0), (0, 1), (0, -1), (d, d), (d, -d), (-d, d), (-d, -d)]
    unit = torch.tensor(directions, dtype=torch.float64)
    bounds = (-4.0, 4.0, -4.0, 4.0)
    return GaussianMixture2D("8gaussians", 4.0 * unit / 1.414, 0.5 / 1.414, bounds)


def _ring() -> GaussianMixture2D:
    angle = 2 * math.pi * torch.arange(8, dtype=torch.float64) / 8  # no repeated end
    means = torch.stack([angle.cos(), angle.sin()], 1)
    return GaussianMixture2D("ring", means, 0.01, (-1.3, 1.3, -1.3, 1.3))


def _grid() -> GaussianMixture2D:
    v = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0], dtype=torch.float64)
    means = torch.cartesian_prod(v, v)
    return GaussianMixture2D("grid", means, 0.05, (-5.0, 5.0, -5.0, 5.0))


_REGISTRY = MappingProxyType(
    {
        "8gaussians": _eight_gaussians,
        "checkerboard": Checkerboard,
        "moons": Moons,
        "circles": lambda: Rings("circles", (3.0, 1.5), 0.24),
        "rings": lambda: Rings("rings", (3.0, 2.25, 1.5, 0.75), 0.08),
        "2spirals": TwoSpirals,
        "pinwheel": Pinwheel,
        "ring": _ring,
        "grid": _grid,
    }
)


#: Names accepted by :func:`get_density`: the FFJORD toy set, then the PacGAN mixtures.
DENSITY_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def get_density(name: str) -> Density2D:
    """The 2-D density called ``name`` (one of :data:`DENSITY_NAMES`)."""
    if not isinstance(name, str) or name not in _REGISTRY:
        valid = ", ".join(DENSITY_NAMES)
        raise ValueError(f"name must be one of {valid}; got {name!r}")
    return _REGISTRY[name]()


def check_density_names(datasets: tuple[str, ...], field: str = "datasets") -> None:
    """Raise ``ValueError`` naming ``field`` unless ``datasets`` is a non-empty tuple of
    names from :data:`DENSITY_NAMES` (the check of every chapter configuration that
    lists 2-D densities)."""
    if not isinstance(datasets, tuple) or not datasets:
        raise ValueError(f"{field} must be a non-empty tuple, got {datasets!r}")
    for name in datasets:
        if name not in DENSITY_NAMES:
            raise ValueError(f"{field}: {name!r} is not one of {DENSITY_NAMES}")
