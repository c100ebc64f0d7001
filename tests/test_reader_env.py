"""The reader's path: every notebook runs with the library's runtime dependencies alone.

``make test`` builds ``.venv-reader`` (torch, ipykernel, and the library installed by the
chapters' own Colab cell against this checkout), registers its kernel ``dgm-reader`` and
runs every notebook under nbval on that kernel (``--nbval-kernel-name dgm-reader``). These
tests check that this is what happened: the notebooks ran on the reader kernel, and that
kernel's environment has no book or test tooling.
"""

from __future__ import annotations

import json
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
READER_KERNEL = "dgm-reader"
#: What only the book build or the tests need: none of it may be in the reader environment.
#: (zuko is a runtime dependency: the closing chapter runs it.)
BUILD_ONLY = ("myst_nb", "sphinx", "jupyter_book", "nbval", "pytest", "nbformat")


def _reader_python() -> str:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(READER_KERNEL)
    except NoSuchKernel:
        pytest.fail(f"kernel {READER_KERNEL!r} is not installed: run `make test` (it runs `make reader`)")
    return spec.argv[0]


def test_notebooks_run_on_the_reader_kernel(request):
    used = request.config.getoption("nbval_kernel_name", default=None)
    assert used == READER_KERNEL, f"notebooks ran on kernel {used!r}; `make test` passes --nbval-kernel-name {READER_KERNEL}"


def test_reader_environment_has_no_build_tooling():
    code = (
        "import importlib.util as u, json, sys; "
        f"print(json.dumps([m for m in {BUILD_ONLY!r} if u.find_spec(m)]))"
    )
    out = subprocess.run([_reader_python(), "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [], f"the reader environment has build-only packages: {out}"


def test_reader_library_is_an_installed_copy_of_this_checkout():
    code = "import tutorial_lib, json; print(json.dumps([tutorial_lib.__file__, tutorial_lib.__version__]))"
    out = subprocess.run([_reader_python(), "-c", code], capture_output=True, text=True, check=True).stdout
    path, version = json.loads(out)
    import tutorial_lib

    assert "site-packages" in path and not path.startswith(str(ROOT / "src")), path
    assert version == tutorial_lib.__version__
    # the installed modules are this checkout's (the Makefile reinstalls when src/ changes)
    installed = pathlib.Path(path).parent
    for source in (ROOT / "src" / "tutorial_lib").rglob("*.py"):
        copy = installed / source.relative_to(ROOT / "src" / "tutorial_lib")
        assert copy.exists() and copy.read_bytes() == source.read_bytes(), f"{copy} differs from {source}: make reader"
