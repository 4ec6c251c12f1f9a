"""`derivcheck audit-kernel EXPR`: is a kernel g(r) safe to train node coordinates with?

Eleven checks (`CHECKS`), each one registered function with a verdict (pass / warn / fail; skipped when it could not run), a
one-line detail, and evidence that says whether it was decided symbolically or numerically. They
compose the exact facts of `derive.audit_math` (and the kernel's own coincidence properties), the
scans of `numeric.scan` and the engines of `numeric`. Output: a rich table, ``--json`` (schema of
issue 5), and ``--report OUTDIR`` (LaTeX with plots of g, g', phi and the float32 error).

Modules: `registry` (Check, Audit, the registry), `facts` (what checks share), `shape`,
`coincidence`, `float32` and `engines` (the checks), `core` (`audit`), `report` (JSON, table, LaTeX), `cli`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from derive.lazy import lazy_names

if TYPE_CHECKING:
    from derivcheck.audit.args import add_arguments
    from derivcheck.audit.cli import parse_params, run
    from derivcheck.audit.core import audit
    from derivcheck.audit.engines import engines_agreement
    from derivcheck.audit.float32 import SEPARATIONS, float32_errors
    from derivcheck.audit.registry import CHECKS, REGISTRY, Audit, Check, worst
    from derivcheck.audit.report import print_table, to_json, write_report

__all__ = [
    "Check",
    "Audit",
    "CHECKS",
    "REGISTRY",
    "SEPARATIONS",
    "audit",
    "worst",
    "float32_errors",
    "engines_agreement",
    "to_json",
    "print_table",
    "write_report",
    "add_arguments",
    "run",
    "parse_params",
]

# loaded on first use: the command line parses audit-kernel's options (.args) without torch or SymPy
_LAZY = {
    "add_arguments": "args",
    "parse_params": "cli",
    "run": "cli",
    "audit": "core",
    "engines_agreement": "engines",
    "SEPARATIONS": "float32",
    "float32_errors": "float32",
    "CHECKS": "registry",
    "REGISTRY": "registry",
    "Audit": "registry",
    "Check": "registry",
    "worst": "registry",
    "print_table": "report",
    "to_json": "report",
    "write_report": "report",
}


__getattr__ = lazy_names(__name__, _LAZY)
