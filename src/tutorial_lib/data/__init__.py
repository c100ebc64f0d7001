"""Data that need no download: 2-D densities with exact log-densities, the digits, and
linear-Gaussian data (see :mod:`.toy2d`, :mod:`.digits`, :mod:`.linear_gaussian`)."""

from .density import Density2D, gauss_legendre
from .digits import LEVELS, DigitsSplit, dequantize, dequantized_sampler, load_digits_split, to_pixels, to_unit
from .linear_gaussian import LinearDataConfig, LinearGaussian, make_linear_gaussian_data
from .toy2d import DENSITY_NAMES, GaussianMixture2D, get_density

__all__ = [
    "Density2D",
    "gauss_legendre",
    "GaussianMixture2D",
    "DENSITY_NAMES",
    "get_density",
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
