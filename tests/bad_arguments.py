"""The table format of the bad-argument tests.

Every test module may define ``BAD_ARGUMENTS``: a list of :class:`BadArg`. Each row names
the public callable it covers (``target``: a function, a class, or a method), a
zero-argument ``call`` that passes it one bad argument, and the ``argument`` whose name the
``ValueError``'s message must contain. ``tests/test_bad_arguments.py`` runs every row and
checks that every public callable of the library is covered or exempted with a reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class BadArg:
    """One bad argument: ``call()`` must raise ``ValueError`` mentioning ``argument``."""

    target: object
    call: Callable[[], object]
    argument: str

    @property
    def id(self) -> str:
        name = getattr(self.target, "__qualname__", repr(self.target))
        return f"{name}-{self.argument}"
