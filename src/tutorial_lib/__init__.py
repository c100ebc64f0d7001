"""Helper library of the executable textbook on deep generative models.

Importing the package does nothing beyond defining names: no seeding, no downloads,
no global patches. Import the submodules you need, e.g.
``from tutorial_lib import data, train, metrics, plot``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
