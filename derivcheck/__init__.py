"""derivcheck: verify hand-derived gradients and Hessians of spatially embedded networks.

The exact side lives in `derive`, the numeric engines in `numeric`; this package holds the command
line (`derivcheck --help`, `python -m derivcheck`), the runners, the reports, and `check_grad`, the
check of a user's own gradient code (usable inside pytest).
"""

__all__ = ["__version__", "check_grad", "CheckResult"]


def __getattr__(name: str):
    # check_grad pulls in SymPy and the engines: imported on first use, so `derivcheck --help` stays instant
    if name == "__version__":  # looked up on use: importing the package stays instant (derivcheck.entry)
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("derivcheck")
        except PackageNotFoundError:  # a source tree on sys.path without an installed distribution
            return "0+unknown"
    if name in ("check_grad", "CheckResult"):
        from derivcheck import checkgrad

        return getattr(checkgrad, name)
    raise AttributeError(f"module 'derivcheck' has no attribute {name!r}")
