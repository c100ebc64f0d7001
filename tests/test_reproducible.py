"""Two CPU executions of a training chapter print the same numbers (DESIGN.md's promise):
every value the chapter glues into its prose is identical across the two runs, except the
wall-clock measurements (glued names containing "seconds" or "time"), which are not results."""

from __future__ import annotations

import os
import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "vae" / "vae_digits.ipynb"


def _glued(path: pathlib.Path, kernel: str) -> dict[str, str]:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name=kernel, resources={"metadata": {"path": str(path.parent)}})
    client.execute(env={**os.environ, "TUTORIAL_DEVICE": "cpu"})
    values: dict[str, str] = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get("scrapbook")
            if meta:
                data = out["data"]
                values[meta["name"]] = str(data.get(meta["mime_prefix"] + "text/plain"))
    return values


def test_a_training_chapter_glues_identical_values_twice(request):
    kernel = request.config.getoption("nbval_kernel_name", default=None) or "python3"
    first, second = _glued(CHAPTER, kernel), _glued(CHAPTER, kernel)
    assert len(first) >= 10, f"expected the chapter's glued values, got {sorted(first)}"
    timings = {k for k in first if "seconds" in k or "time" in k}
    assert len(timings) < len(first) / 2, f"too many glued timings to compare: {sorted(timings)}"
    differ = {k: (first[k], second.get(k)) for k in first if k not in timings and first[k] != second.get(k)}
    assert not differ and set(first) == set(second), differ
