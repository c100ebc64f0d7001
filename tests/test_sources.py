"""What a reader sees fits the page: code lines and display equations do not run past the
right edge of the book's column (issue: equations and code were cut off at 1400 px)."""

from __future__ import annotations

import json
import pathlib

import pytest
from mathwidth import rows, width

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
#: Longest code line shown in full in the book's column (about 88 characters at 1400 px).
MAX_CODE = 88
#: Widest display-equation row (see mathwidth.py for the unit and its calibration).
MAX_MATH = 50.0


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_code_lines_fit_the_column(path):
    nb = json.loads(path.read_text())
    long = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            for line in "".join(cell["source"]).splitlines():
                if len(line) > MAX_CODE:
                    long.append(f"cell {i}: {len(line)} characters: {line.strip()[:60]}...")
    assert not long, "\n".join(long)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_display_equations_fit_the_column(path):
    nb = json.loads(path.read_text())
    wide = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "markdown":
            for row in rows("".join(cell["source"])):
                if width(row) > MAX_MATH:
                    wide.append(f"cell {i}: width {width(row):.0f}: {' '.join(row.split())[:70]}...")
    assert not wide, "break these rows with aligned:\n" + "\n".join(wide)


def test_the_width_estimate_separates_known_cases():
    # a row that ran past the edge (the minimax value function) and one that fitted
    assert width(r"V(D, G) = \mathbb E_{x \sim p_\text{data}} \log D(x) + \mathbb E_{z \sim p_z} "
                 r"\log\bigl(1 - D(G(z))\bigr) = \int p_\text{data}(x) \log D(x) + p_g(x) \log(1 - D(x))\, dx") > MAX_MATH
    assert width(r"\mathbb E_{p}[-\log q_\theta(x)] = H(p) + \mathrm{KL}(p\,\|\,q_\theta),") < MAX_MATH
    assert width(r"\frac{a+b+c+d}{e}") == pytest.approx(7)


def _stray_plus_lines(markdown: str) -> list[str]:
    """Lines outside display maths that start with '+ ': Markdown reads them as list
    items, which breaks an inline formula that was wrapped before its plus sign."""
    found, display = [], False
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("$$"):
            display = not display if stripped.count("$$") == 1 else display
            continue
        if not display and stripped.startswith("+ "):
            found.append(stripped[:60])
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_prose_line_starts_with_a_plus(path):
    nb = json.loads(path.read_text())
    stray = [f"cell {i}: {line}" for i, cell in enumerate(nb["cells"])
             if cell["cell_type"] == "markdown"
             for line in _stray_plus_lines("".join(cell["source"]))]
    assert not stray, "move the '+' to the end of the previous line:\n" + "\n".join(stray)


def test_the_plus_check_knows_display_maths():
    assert _stray_plus_lines("so $a = b\n+ c$ holds") == ["+ c$ holds"]
    assert _stray_plus_lines("$$\n\\begin{aligned}\na\n+ b\n\\end{aligned}\n$$") == []
