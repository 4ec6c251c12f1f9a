"""derivcheck: verify hand-derived gradients and Hessians of spatially embedded networks.

The exact side lives in `derive`, the numeric engines in `numeric`; this package holds the command
line (`derivcheck --help`, `python -m derivcheck`), the runners and the reports.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("derivcheck")
except PackageNotFoundError:  # a source tree on sys.path without an installed distribution
    __version__ = "0+unknown"

__all__ = ["__version__"]
