"""Plots shared by the chapters; every function sets a title and axis labels and returns the Axes."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import Tensor

__all__ = ["density_heatmap", "samples_scatter", "image_grid", "loss_curves"]


def _grid(bounds: tuple[float, float, float, float], n: int) -> tuple[Tensor, Tensor, Tensor]:
    xs = torch.linspace(bounds[0], bounds[1], n, dtype=torch.float64)
    ys = torch.linspace(bounds[2], bounds[3], n, dtype=torch.float64)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    return gx, gy, torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)


def _axes(ax):
    return ax if ax is not None else plt.subplots(figsize=(4, 4))[1]


@torch.no_grad()
def density_heatmap(
    log_prob_fn: Callable[[Tensor], Tensor],
    bounds: tuple[float, float, float, float],
    ax: plt.Axes | None = None,
    n: int = 200,
    title: str | None = None,
) -> plt.Axes:
    """Heat map of ``exp(log_prob_fn(x))`` on an ``n x n`` grid over ``bounds``."""
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    ax = _axes(ax)
    gx, gy, pts = _grid(bounds, n)
    dens = torch.cat([log_prob_fn(p).double().exp() for p in pts.split(16384)]).reshape(n, n)
    ax.imshow(dens.nan_to_num(0.0).numpy(), extent=bounds, origin="lower", cmap="viridis", aspect="equal")
    ax.set(title=title or "density", xlabel="$x_1$", ylabel="$x_2$")
    return ax


@torch.no_grad()
def samples_scatter(
    samples: Tensor,
    ax: plt.Axes | None = None,
    bounds: tuple[float, float, float, float] | None = None,
    log_prob_fn: Callable[[Tensor], Tensor] | None = None,
    title: str | None = None,
) -> plt.Axes:
    """Scatter of 2-D samples, over the contours of ``log_prob_fn`` when given."""
    if samples.dim() != 2 or samples.shape[1] != 2:
        raise ValueError(f"samples must have shape (N, 2), got {tuple(samples.shape)}")
    ax = _axes(ax)
    s = samples.detach().cpu().double().numpy()
    if bounds is None:
        lo, hi = s.min(0), s.max(0)
        pad = 0.1 * (hi - lo).max()
        bounds = (lo[0] - pad, hi[0] + pad, lo[1] - pad, hi[1] + pad)
    if log_prob_fn is not None:
        gx, gy, pts = _grid(bounds, 150)
        lp = torch.cat([log_prob_fn(p).double() for p in pts.split(16384)]).reshape(150, 150)
        ax.contour(gx.numpy(), gy.numpy(), lp.exp().nan_to_num(0.0).numpy(), levels=6, cmap="Greys", linewidths=0.8)
    ax.scatter(s[:, 0], s[:, 1], s=2, alpha=0.4, color="tab:red")
    ax.set(xlim=bounds[:2], ylim=bounds[2:], title=title or "samples", xlabel="$x_1$", ylabel="$x_2$")
    ax.set_aspect("equal")
    return ax


def image_grid(images: Tensor, nrow: int = 10, ax: plt.Axes | None = None, title: str | None = None) -> plt.Axes:
    """Tile 8x8 digit images (``(N, 64)`` or ``(N, 8, 8)``, values in [0, 16]) into a grid
    of ``nrow`` images per row (as torchvision's ``make_grid``), one blank pixel between images."""
    imgs = images.detach().cpu().float().reshape(-1, 8, 8).numpy()
    if nrow < 1:
        raise ValueError(f"nrow must be >= 1, got {nrow}")
    rows = int(np.ceil(len(imgs) / nrow))
    canvas = np.full((rows * 9 + 1, nrow * 9 + 1), np.nan)
    for i, im in enumerate(imgs):
        r, c = divmod(i, nrow)
        canvas[1 + 9 * r : 9 + 9 * r, 1 + 9 * c : 9 + 9 * c] = im
    ax = _axes(ax)
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=16)
    ax.set(title=title or "digits", xticks=[], yticks=[])
    for spine in ax.spines.values():  # the grey separators frame the images already
        spine.set_visible(False)
    return ax


def loss_curves(
    history: object | Mapping[str, list[float]],
    ax: plt.Axes | None = None,
    title: str | None = None,
    logy: bool = False,
) -> plt.Axes:
    """Plot every recorded series of a :class:`~tutorial_lib.train.History` (or a dict of lists) against the step."""
    values = history.values if hasattr(history, "values") and not isinstance(history, Mapping) else history
    if not isinstance(values, Mapping):
        raise ValueError(f"history must be a History or a mapping of lists, got {type(history).__name__}")
    ax = _axes(ax)
    for name, v in values.items():
        ax.plot(np.arange(len(v)), v, label=name, lw=1)
    if hasattr(history, "val") and history.val:
        st, vv = zip(*history.val)
        ax.plot(st, vv, "o-", label="validation", ms=3)
    if logy:
        ax.set_yscale("log")
    ax.set(title=title or "training curves", xlabel="step", ylabel="value")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)  # off the data
    return ax
