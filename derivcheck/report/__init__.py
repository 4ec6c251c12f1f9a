"""`derivcheck report`: derivation and verification reports (jinja2 -> LaTeX -> latexmk -> PDF)."""

from .cli import add_arguments, run, verification_report
from .derivation import derivation_report

__all__ = ["derivation_report", "verification_report", "add_arguments", "run"]
