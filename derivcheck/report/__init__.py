"""`derivcheck report`: derivation and verification reports (jinja2 -> LaTeX -> latexmk -> PDF)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .args import add_arguments
    from .cli import run, verification_report
    from .derivation import derivation_report

__all__ = ["derivation_report", "verification_report", "add_arguments", "run"]

# loaded on first use: the command line parses report's options (.args) without SymPy or matplotlib
_LAZY = {"add_arguments": "args", "run": "cli", "verification_report": "cli", "derivation_report": "derivation"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value
