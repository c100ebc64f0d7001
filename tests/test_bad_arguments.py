"""One table of bad arguments: every public callable of the library rejects a bad input with a
``ValueError`` whose message names the argument.

The rows live beside the tests of each part (``BAD_ARGUMENTS`` in ``tests/test_*.py``, the
format in ``tests/bad_arguments.py``); this module runs them all and checks that every public
callable of ``tutorial_lib`` (the functions and classes in each module's ``__all__``) is covered
by a row, or exempted below with a reason.
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import pkgutil

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from bad_arguments import BadArg  # noqa: E402
from torch import nn  # noqa: E402

import tutorial_lib  # noqa: E402
from tutorial_lib import metrics, plot, references, train, utils  # noqa: E402
from tutorial_lib import nn as tnn  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent

#: Public callables without a meaningful bad argument, with the reason.
EXEMPT: dict[str, str] = {
    "tutorial_lib.train.NonFiniteLossError": "an exception class",
    "tutorial_lib.train.History": "a record that run_loop fills; it takes no arguments",
    "tutorial_lib.metrics.modes.ModeStats": "a frozen result record, built only by mode_metrics",
    "tutorial_lib.data.digits.load_digits_split": "takes no arguments",
    "tutorial_lib.utils.in_book_build": "takes no arguments",
    "tutorial_lib.chapters.road_ahead.GMMFits": "a frozen result record, built only by fit_mixtures",
    "tutorial_lib.chapters.road_ahead.SolverRow": "a frozen result record, built only by solver_comparison",
    "tutorial_lib.chapters.side_by_side.DigitsRow": "a frozen result record, built only by evaluate_family",
    "tutorial_lib.chapters.side_by_side_2d.Row2D": "a frozen result record, built only by evaluate_2d",
    "tutorial_lib.cache.Cached": "a frozen result record, built only by load_or_build",
    "tutorial_lib.metrics.detection.Detection": "a frozen result record, built only by detection_metrics",
    "tutorial_lib.chapters.anomaly.FamilyScores": "a frozen result record, built only by score_family",
    "tutorial_lib.chapters.augmentation.AugmentationRun": "a frozen result record, built only by run_augmentation",
    "tutorial_lib.cache.cache_dir": "takes no arguments",
}


def _history() -> train.History:
    h = train.History()
    h.record(0, {"loss": 1.0})
    return h


def _tiny_loader():
    return train.minibatches(torch.zeros(4, 2), 0, torch.Generator())


CORE: list[BadArg] = [
    BadArg(utils.seed_everything, lambda: utils.seed_everything(-1), "seed"),
    BadArg(utils.get_device, lambda: utils.get_device("tpu"), "prefer"),
    BadArg(utils.set_threads, lambda: utils.set_threads("gpu0"), "device"),
    BadArg(utils.setup, lambda: utils.setup(1.5), "seed"),
    BadArg(utils.count_parameters, lambda: utils.count_parameters("not a module"), "module"),
    BadArg(utils.glue, lambda: utils.glue("", 1.0), "name"),
    BadArg(utils.glue_table, lambda: utils.glue_table("t", "no table"), "markdown"),
    BadArg(tnn.mlp, lambda: tnn.mlp(2, 2, 8, 1, activation="swish"), "activation"),
    BadArg(tnn.activation_module, lambda: tnn.activation_module("swish"), "activation"),
    BadArg(tnn.MaskedLinear, lambda: tnn.MaskedLinear(torch.full((3, 2), 0.5)), "mask"),
    BadArg(tnn.MADE, lambda: tnn.MADE(3, 2, 8, 1, torch.tensor([0, 0, 1])), "order"),
    BadArg(train.TrainConfig, lambda: train.TrainConfig(steps=0, batch_size=8), "steps"),
    BadArg(train.run_loop, lambda: train.run_loop(lambda i: {}, 0), "steps"),
    BadArg(train.fit, lambda: train.fit(nn.Linear(1, 1), None, [1.0], train.TrainConfig(1, 1)), "data"),
    BadArg(train.minibatches, lambda: next(_tiny_loader()), "batch_size"),
    BadArg(metrics.average_nll, lambda: metrics.average_nll(lambda v: v, torch.zeros(0, 1)), "x"),
    BadArg(metrics.entropy_mc, lambda: metrics.entropy_mc(None, n=1), "n"),
    BadArg(metrics.bits_per_dim, lambda: metrics.bits_per_dim(1.0, 0), "dim"),
    BadArg(metrics.discrete_nll, lambda: metrics.discrete_nll(nn.Identity(), torch.zeros(2, 2), samples=0),
           "samples"),
    BadArg(metrics.assign_modes, lambda: metrics.assign_modes(torch.zeros(3, 2), torch.zeros(2, 2), -1.0),
           "std"),
    BadArg(metrics.mode_metrics, lambda: metrics.mode_metrics(torch.zeros(3, 3), torch.zeros(2, 2), 1.0),
           "samples"),
    BadArg(metrics.mmd2_unbiased, lambda: metrics.mmd2_unbiased(torch.zeros(3, 2), torch.zeros(3, 3)), "y"),
    BadArg(metrics.frechet_distance,
           lambda: metrics.frechet_distance(torch.zeros(2), torch.eye(3), torch.zeros(2), torch.eye(2)), "cov1"),
    BadArg(metrics.frechet_distance_features,
           lambda: metrics.frechet_distance_features(torch.zeros(5, 2), torch.zeros(1, 2)), "f2"),
    BadArg(metrics.DigitClassifier, lambda: metrics.DigitClassifier(channels=0), "channels"),
    BadArg(metrics.train_classifier,
           lambda: metrics.train_classifier(torch.zeros(4, 63), torch.zeros(4), torch.zeros(2, 64), torch.zeros(2)),
           "train_x"),
    BadArg(plot.density_heatmap, lambda: plot.density_heatmap(lambda v: v[:, 0], (-1, 1, -1, 1), n=1), "n"),
    BadArg(plot.samples_scatter, lambda: plot.samples_scatter(torch.zeros(5, 3)), "samples"),
    BadArg(plot.image_grid, lambda: plot.image_grid(torch.zeros(4, 64), nrow=0), "nrow"),
    BadArg(plot.loss_curves, lambda: plot.loss_curves(3.0), "history"),
    BadArg(references.Reference,
           lambda: references.Reference(1.0, "", "m", "t", "s", "b", "table 1"), "unit"),
    BadArg(references.ref, lambda: references.ref("no such key"), "key"),
    BadArg(references.by_task, lambda: references.by_task(""), "task_contains"),
]


def _rows() -> list[BadArg]:
    rows = list(CORE)
    for path in sorted(HERE.glob("test_*.py")):
        if path.stem == "test_bad_arguments":
            continue
        module = importlib.import_module(path.stem)
        rows += list(getattr(module, "BAD_ARGUMENTS", []))
    return rows


ROWS = _rows()


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_bad_argument_raises_value_error_naming_it(row: BadArg) -> None:
    with pytest.raises(ValueError) as info:
        row.call()
    assert row.argument in str(info.value), f"the message {str(info.value)!r} does not name {row.argument!r}"


def public_callables() -> dict[str, object]:
    """Every function and class named in the ``__all__`` of a module of ``tutorial_lib``
    (the module that defines it), by its dotted name."""
    found: dict[str, object] = {}
    for info in pkgutil.walk_packages(tutorial_lib.__path__, "tutorial_lib."):
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = obj
    return found


def _covered(obj: object) -> bool:
    for row in ROWS:
        target = row.target
        if target is obj:
            return True
        owner = getattr(target, "__qualname__", "").split(".")[0]
        if inspect.isclass(obj) and owner == obj.__qualname__ and target.__module__ == obj.__module__:
            return True  # a row for one of the class's methods
    return False


def test_every_public_callable_has_a_bad_argument_row() -> None:
    callables = public_callables()
    missing = sorted(name for name, obj in callables.items() if name not in EXEMPT and not _covered(obj))
    covered = len(callables) - len(missing) - len(EXEMPT)
    print(f"{len(callables)} public callables: {covered} covered, {len(EXEMPT)} exempt, {len(missing)} missing")
    assert not missing, "public callables without a bad-argument row: " + ", ".join(missing)


def test_exemptions_name_existing_callables() -> None:
    assert set(EXEMPT) <= set(public_callables())
