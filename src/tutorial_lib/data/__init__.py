"""Data that need no download.

* :mod:`.density`: the interface of the 2-D densities (:class:`Density2D`), the
  Gaussian mixture :class:`GaussianMixture2D` and a Gauss-Legendre rule;
* :mod:`.toy2d`: the book's 2-D densities by name (:func:`get_density`), each with an
  exact ``log_prob``;
* :mod:`.digits`: scikit-learn's 8x8 digits, the book's split, pixel scales and
  dequantisation;
* :mod:`.linear_gaussian`: the linear-Gaussian model, whose likelihood and posterior
  are exact, and data drawn from it.
"""

from .density import Density2D, GaussianMixture2D, gauss_legendre
from .digits import (
    LEVELS,
    DigitsSplit,
    dequantize,
    dequantized_sampler,
    load_digits_split,
    to_pixels,
    to_unit,
)
from .linear_gaussian import LinearDataConfig, LinearGaussian, make_linear_gaussian_data
from .toy2d import DENSITY_NAMES, check_density_names, get_density

__all__ = [
    "Density2D",
    "GaussianMixture2D",
    "gauss_legendre",
    "DENSITY_NAMES",
    "get_density",
    "check_density_names",
    "DigitsSplit",
    "load_digits_split",
    "LEVELS",
    "to_unit",
    "to_pixels",
    "dequantize",
    "dequantized_sampler",
    "LinearGaussian",
    "LinearDataConfig",
    "make_linear_gaussian_data",
]
