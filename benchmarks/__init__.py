"""Quality-and-speed benchmarks, run with the chapters' own configurations.

Every module of this package defines ``SUITES = {name: run}`` where ``run(quick: bool)``
returns a list of records with the keys of :data:`RECORD_KEYS`. Run a suite with
``python -m benchmarks SUITE --out FILE.json`` (``all`` runs every suite).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

RECORD_KEYS = (
    "suite",
    "task",
    "model",
    "metric",
    "value",
    "lower_is_better",
    "reference",
    "reference_value",
    "seconds",
    "seeds",
)


def discover() -> dict[str, Callable[[bool], list[dict]]]:
    """Every suite of every module in this package, by name."""
    suites: dict[str, Callable[[bool], list[dict]]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for name, fn in getattr(module, "SUITES", {}).items():
            if name in suites:
                raise RuntimeError(f"suite {name!r} is defined twice")
            suites[name] = fn
    return suites


def check_records(records: list[dict]) -> None:
    """Raise ``ValueError`` if a record lacks a key of the contract or has an extra one."""
    for r in records:
        if set(r) != set(RECORD_KEYS):
            raise ValueError(f"record keys {sorted(r)} differ from the contract {sorted(RECORD_KEYS)}")


def format_table(records: list[dict]) -> str:
    """The records as a plain-text table."""
    cols = ["suite", "task", "model", "metric", "value", "reference", "reference_value", "seconds", "seeds"]

    def fmt(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return "" if v is None else str(v)

    rows = [[fmt(r.get(c)) for c in cols] for r in records]
    widths = [max(len(c), *(len(row[i]) for row in rows)) if rows else len(c) for i, c in enumerate(cols)]
    line = lambda cells: "  ".join(s.ljust(w) for s, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(cols), line(["-" * w for w in widths]), *(line(row) for row in rows)])


def make_record(
    *,
    suite: str,
    task: str,
    model: str,
    metric: str,
    value: float,
    lower_is_better: bool,
    reference: str | None,
    reference_value: float | None,
    seconds: float,
    seeds: int | list[int],
) -> dict:
    """One record of the benchmark contract, with its values cast to JSON types."""
    return {
        "suite": suite,
        "task": task,
        "model": model,
        "metric": metric,
        "value": float(value),
        "lower_is_better": bool(lower_is_better),
        "reference": reference,
        "reference_value": None if reference_value is None else float(reference_value),
        "seconds": float(seconds),
        "seeds": seeds,
    }
