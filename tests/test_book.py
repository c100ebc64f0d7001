"""The whole book builds with zero warnings and nitpicky references (`jupyter-book build -W -n`)."""

import os
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_book_builds_without_warnings():
    exe = pathlib.Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else shutil.which("jupyter-book"), "build", str(ROOT), "-W", "-n", "--keep-going"]
    # no progress bars in the pages (a saved bar is a frozen widget)
    env = {**os.environ, "TUTORIAL_BOOK_BUILD": "1"}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"book build failed:\n{log[-8000:]}"
    assert (ROOT / "_build" / "html" / "index.html").exists()
    # Sphinx reports "file:line: WARNING: ..."; the kernel's own "WARNING |" log lines are not build warnings
    warnings = [line for line in log.splitlines() if "WARNING:" in line]
    assert not warnings, "\n".join(warnings)
