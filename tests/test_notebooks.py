"""Notebook hygiene: no committed outputs, the shared setup cell, the repository address in one place."""

import json
import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _repo_url() -> str:
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def _toc_files() -> set[str]:
    found = re.findall(r"file:\s*(\S+)", (ROOT / "_toc.yml").read_text())
    return set(found)


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"cells {dirty} carry outputs: run nbstripout {path.relative_to(ROOT)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_setup_cell_installs_from_the_configured_repository(path):
    nb = json.loads(path.read_text())
    first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    src = "".join(first_code["source"])
    assert '"google.colab" in sys.modules' in src, "the first code cell must install the library on Colab"
    assert f"git+{_repo_url()}" in src, "the Colab install must use the repository address of _config.yml"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_in_the_toc(path):
    rel = str(path.relative_to(ROOT).with_suffix(""))
    assert rel in _toc_files(), f"{rel} is not listed in _toc.yml"


def test_no_cuda_calls():
    offenders = [str(p.relative_to(ROOT)) for p in [*NOTEBOOKS, *(ROOT / "src").rglob("*.py")] if ".cuda()" in p.read_text()]
    assert not offenders, f".cuda() found in {offenders}: use get_device() and .to(device)"
