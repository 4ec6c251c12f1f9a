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

from .cases import Case, case_spec, drawn_cases, matrix_cases
from .checks import CHECKS, run_case
from .cli import SCHEMA, add_arguments, run

__all__ = ["Case", "case_spec", "matrix_cases", "drawn_cases", "run_case", "run", "add_arguments", "CHECKS", "SCHEMA"]
