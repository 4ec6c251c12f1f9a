"""One failure path and one tolerance table: errors against a reference, the `Finding` every check
produces, the function that records or raises it, and the exact identities of MATH.md.

Error measures (normwise, so entries that cancel to ~0 do not dominate):
    rel_error(x, truth) = max|x - truth| / max(max|truth|, tiny)
    ulp_error(x, truth) = max|x - truth| / spacing(max|truth|) in the engine's dtype

Every check (engine entries, identities, Taylor slopes, H v, formula and worked-number claims) builds
a `Finding` and passes it to `report` (or a `Findings` collector): a failed finding is recorded, or
raised as `derive.VerificationError` carrying the finding. Every tolerance is a row of `TOLERANCES`.

Where each part lives (this module re-exports them; import from here): numeric/compare/tolerances.py
(TOLERANCES, tolerance), numeric/compare/findings.py (Finding, report, Findings, MEASURES, and `locate` / `worst_entry`,
the one way every message names an entry: " of layer 2, node 1, dim 2", every number from 1),
numeric/compare/checks.py (error measures, check_close, check_gradients, check_identity) and
numeric/compare/identities.py (translation, rotation and permutation residuals).
"""

from __future__ import annotations

from numeric.compare.checks import (
    QUANTITIES,
    check_close,
    check_gradients,
    check_identity,
    hvp_scale,
    problem_scale,
    quantities,
    rel_error,
    ulp_error,
)
from numeric.compare.findings import ENTRIES, MEASURES, Finding, Findings, locate, report, worst_entry
from numeric.compare.identities import (
    permutation_residual,
    rotation_asymmetry,
    rotation_moment,
    translation_residual,
    translation_sum,
)
from numeric.compare.tolerances import TOLERANCES, tolerance

__all__ = [
    "TOLERANCES",
    "tolerance",
    "rel_error",
    "ulp_error",
    "Finding",
    "MEASURES",
    "report",
    "Findings",
    "ENTRIES",
    "locate",
    "worst_entry",
    "check_close",
    "check_gradients",
    "check_identity",
    "translation_residual",
    "rotation_asymmetry",
    "translation_sum",
    "rotation_moment",
    "permutation_residual",
    "quantities",
    "problem_scale",
    "hvp_scale",
    "QUANTITIES",
]
