"""`derivcheck check-grad FILE.py:FUNC --net NET.toml` and `derivcheck.check_grad(fn, net)`: judge a
user's own gradient code against the 50-digit ground truth.

Over drawn cases of the network (seeded NumPy draws) and adversarial ones (nearly coincident nodes
down to 1e-7, coincident nodes, saturation, ReLU kinks; numeric.draws), optionally over a family of
sizes, every quantity fn returns is compared with derive.symbolic.gradients(..., dps=50) within
numeric.compare.TOLERANCES. A mismatch is reported with its entry, both values, the error and the
tolerance, a diagnosis where one fits (derivcheck.checkgrad.diagnose; "error grows as nodes approach": derivcheck.checkgrad.shrink),
a shrunk counterexample (fewer rows, nodes and layers when fn is generic, the widest node separation
that still fails, rounder numbers), the seed and a one-line reproducing command: a `CheckResult`
(derivcheck.checkgrad.result, re-exported here).

Exit codes: 0 agrees, 1 a counterexample, 2 bad input (bad path, import error, fn raises, wrong shapes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from derive.lazy import lazy_names

if TYPE_CHECKING:
    from .args import add_arguments
    from .cli import check_grad, parse_family, run
    from .result import CheckResult

__all__ = ["check_grad", "CheckResult", "add_arguments", "run", "parse_family"]

# loaded on first use: the command line parses check-grad's options (.args) without torch or SymPy
_LAZY = {"add_arguments": "args", "check_grad": "cli", "parse_family": "cli", "run": "cli", "CheckResult": "result"}


__getattr__ = lazy_names(__name__, _LAZY)
