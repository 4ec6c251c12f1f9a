"""`derivcheck verify`: the verification matrix.

Every library kernel x activation x loss on small nets, plus seeded hypothesis-drawn nets, through
every engine: symbolic ground truth (50 digits), manual (float64 and float32), torch CPU, torch CUDA
when present, central finite differences and the Taylor test; first order and H v. Writes
`results.json` atomically (schema in README).

With a network (``--net FILE`` or the network flags of `derivcheck.netspec`) the cases are that network's
instead: ``--cases`` drawn parameter sets and the adversarial ones (`derivcheck.verify.usernet`), judged the same way.

Where each part lives (this module re-exports them; import from here): derivcheck/verify/cases.py (the
cases), derivcheck/verify/checks.py (`run_case`, the checks), derivcheck/verify/summary.py (the summary
and its table); this module holds the command (`add_arguments`, `run`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from derive.lazy import lazy_names

if TYPE_CHECKING:
    from .args import add_arguments
    from .cases import Case, case_spec, drawn_cases, matrix_cases
    from .checks import CHECKS, run_case
    from .cli import SCHEMA, run

__all__ = ["Case", "case_spec", "matrix_cases", "drawn_cases", "run_case", "run", "add_arguments", "CHECKS", "SCHEMA"]

# loaded on first use: the command line parses verify's options (.args) without torch or SymPy
_LAZY = {
    "add_arguments": "args",
    "Case": "cases",
    "case_spec": "cases",
    "drawn_cases": "cases",
    "matrix_cases": "cases",
    "CHECKS": "checks",
    "run_case": "checks",
    "SCHEMA": "cli",
    "run": "cli",
}


__getattr__ = lazy_names(__name__, _LAZY)
