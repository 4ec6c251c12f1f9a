"""`derivcheck claims FILE...`: check a document's worked numbers (TOML) and formulas (Python) and
print a table (claim, verdict, claimed, true value); optionally build the LaTeX errata report.

Exit codes: 0 every claim holds, 1 some claim is false, 2 bad input (`derive.SpecError`).

Worked-number files are described in `derivcheck.claims.file`; formula files are Python modules in
`claims/` defining ``DOCUMENT = {"id": ..., "title": ..., "source": ...}`` and ``CLAIMS = [FormulaClaim(...)]``
(see `derivcheck.formula`). Formula files are code: they are imported, like a test module.

This module is the verb (arguments, run); checking lives in `derivcheck.claims.check`, the table and
the errata report in `derivcheck.claims.output` (both re-exported here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from derive.lazy import lazy_names

if TYPE_CHECKING:
    from .args import add_arguments
    from .check import check_file, check_files
    from .cli import default_files, run
    from .formulas import load_formulas
    from .output import build_errata, print_table
    from .result import REPO, DocumentResult, Result
    from .worked import check_worked

__all__ = [
    "Result",
    "DocumentResult",
    "check_worked",
    "load_formulas",
    "check_file",
    "check_files",
    "build_errata",
    "print_table",
    "add_arguments",
    "default_files",
    "run",
    "REPO",
]

# loaded on first use: the command line parses claims' options (.args) without torch or SymPy
_LAZY = {
    "add_arguments": "args",
    "check_file": "check",
    "check_files": "check",
    "default_files": "cli",
    "run": "cli",
    "load_formulas": "formulas",
    "build_errata": "output",
    "print_table": "output",
    "REPO": "result",
    "DocumentResult": "result",
    "Result": "result",
    "check_worked": "worked",
}


__getattr__ = lazy_names(__name__, _LAZY)
