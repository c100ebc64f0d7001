"""Run the Colab branch of a chapter's first code cell in a plain IPython shell.

``make reader`` calls it with the reader environment's Python and ``TUTORIAL_LIB_SOURCE``
pointing at this checkout: the cell's ``%pip install`` then installs the library exactly as
it does on Colab, with its runtime dependencies only.
"""

import json
import os
import sys

from IPython.core.interactiveshell import InteractiveShell


def main(path: str) -> int:
    if not os.environ.get("TUTORIAL_LIB_SOURCE"):
        raise SystemExit("set TUTORIAL_LIB_SOURCE (for example file:///path/to/checkout)")
    nb = json.load(open(path))
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
    shell = InteractiveShell.instance()
    result = shell.run_cell("".join(cell["source"]))
    result.raise_error()
    import tutorial_lib  # the cell must have installed it

    print(f"installed tutorial_lib {tutorial_lib.__version__} from {os.environ['TUTORIAL_LIB_SOURCE']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
