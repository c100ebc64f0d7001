"""Helper library of the executable textbook on deep generative models.

Importing the package does nothing beyond defining names: no seeding, no downloads,
no global patches. The layout follows the book's parts (see the README):
:mod:`.data`, :mod:`.nn`, :mod:`.train`, :mod:`.baselines`, :mod:`.metrics`,
:mod:`.plot`, one subpackage per family (:mod:`.vae`, :mod:`.gan`, :mod:`.flows`),
:mod:`.references` for published numbers and :mod:`.chapters` for each chapter's
configuration and recipes. A chapter starts with ``generator, device = setup(0)``.
"""

from .utils import count_parameters, get_device, glue, glue_table, seed_everything, setup

__version__ = "0.2.0"

__all__ = ["__version__", "setup", "glue", "glue_table", "seed_everything", "get_device", "count_parameters"]
