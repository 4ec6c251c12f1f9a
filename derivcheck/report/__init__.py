"""`derivcheck report`: derivation and verification reports (jinja2 -> LaTeX -> latexmk -> PDF)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from derive.lazy import lazy_names

if TYPE_CHECKING:
    from .args import add_arguments
    from .cli import run, verification_report
    from .derivation import derivation_report

__all__ = ["derivation_report", "verification_report", "add_arguments", "run"]

# loaded on first use: the command line parses report's options (.args) without SymPy or matplotlib
_LAZY = {"add_arguments": "args", "run": "cli", "verification_report": "cli", "derivation_report": "derivation"}


__getattr__ = lazy_names(__name__, _LAZY)
