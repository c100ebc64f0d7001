"""Every plot helper draws something and sets a title and both axis labels."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from tutorial_lib.data import get_density, load_digits_split  # noqa: E402
from tutorial_lib.plot import density_heatmap, image_grid, loss_curves, samples_scatter  # noqa: E402
from tutorial_lib.train import History  # noqa: E402


def _labelled(ax):
    return ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def test_plots_are_labelled(gen):
    d = get_density("8gaussians")
    hist = History()
    for i in range(5):
        hist.record(i, {"loss": 1.0 / (i + 1)})
    axes = [
        density_heatmap(d.log_prob, d.bounds, n=40),
        samples_scatter(d.sample(200, generator=gen), bounds=d.bounds, log_prob_fn=d.log_prob),
        loss_curves(hist),
    ]
    assert all(_labelled(ax) for ax in axes)
    # an image grid has a title and no axis labels or ticks ("row of images" says nothing)
    grid = image_grid(load_digits_split().test[:23], nrow=10, title="test digits")
    assert grid.get_title() == "test digits" and not grid.get_xlabel() and not grid.get_ylabel()
    assert not len(grid.get_xticks()) and not len(grid.get_yticks())
    # the legend of the training curves sits outside the axes, off the data
    legend = axes[2].get_legend()
    assert legend is not None and legend.get_bbox_to_anchor().x0 >= axes[2].get_window_extent().x1 - 1
    plt.close("all")


def test_image_grid_layout():
    imgs = torch.arange(3 * 64, dtype=torch.float32).reshape(3, 64) % 17
    ax = image_grid(imgs, nrow=2)
    canvas = ax.images[0].get_array()
    assert canvas.shape == (2 * 9 + 1, 2 * 9 + 1)  # 2 per row, 2 rows, 1-pixel gaps
    assert np.array_equal(np.asarray(canvas[1:9, 10:18]), imgs[1].reshape(8, 8).numpy())
    with pytest.raises(ValueError, match="nrow"):
        image_grid(imgs, nrow=0)
    plt.close("all")
