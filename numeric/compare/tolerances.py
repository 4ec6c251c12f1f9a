"""The one tolerance table, `TOLERANCES` (dtype -> quantity -> tolerance), and `tolerance`, its reader.
Every tolerance of every check is a row here; the comment above the table says why each value."""

from __future__ import annotations

import numpy as np

from derive import SpecError

__all__ = ["TOLERANCES", "tolerance"]

_EPS64, _EPS32 = float(np.finfo(np.float64).eps), float(np.finfo(np.float32).eps)

# One table: dtype -> quantity -> tolerance. Rows, by the check that reads them:
#
# Engine vs the 50-digit ground truth (max relative error, `check_close`). float64: a handful of layers
# of O(1) ops, each within a few ulps (2.2e-16), with cancellation in eq. (8)'s backward/forward terms;
# float32 likewise at eps = 1.2e-7. "fd" is central differences, limited by h^2 ~ eps^(2/3).
#
# Exact identities (relative residual, `check_identity`; 0 in exact arithmetic): translation (sum of
# dL/dz over all nodes), rotation (asymmetry of sum z dL/dz^T), permutation of hidden nodes, and the
# Hessian's symmetry, translation null vectors and rotation null vectors at a critical point (residuals
# of `numeric.spectrum`). float64: 1e-12 ~ 4500 eps, room for sums over a few hundred terms. float32:
# the same multiple of eps32 (verify checks identities on float64 engines only).
#
# Taylor test (`numeric.fd.taylor_slope`): the MINIMUM fitted log-log slope of the remainder, which is
# 2 for a correct gradient and 3 with a correct H v; 0.1 below absorbs the fit's noise over 5 steps,
# while a 1 % error in the gradient flattens the slope to ~1. "taylor_floor" is the remainder below
# which rounding dominates, relative to max(1, |L|): 1000 ulps of the loss. The remainder is evaluated
# in float64 whatever the engine's dtype, so both rows hold the float64 values.
#
# Formula claims (`derivcheck.formula`, |claimed - true| <= atol + rtol |true| entrywise): the claimed
# formula is evaluated in float64 from the same forward cache as the engine, so only reassociation
# separates a right formula from the truth; 1e-7 relative leaves room for sums over many layers,
# 1e-10 absolute for entries that cancel to ~0. float32: the float32-engine tolerance of the tests.
#
# Rounding noise ("noise", `check_gradients`): an entry that cancels to (nearly) 0 can only be computed to
# ~eps times the terms that cancel in it, whatever its own size; its error is also accepted when it is
# within 100 eps of the problem's scale S = max(|loss|, largest gradient entry). A quantity far below
# 100 eps S cannot be resolved in that dtype at all; every larger error is judged relative as above.
#
# Worked numbers (`derivcheck.claims.precision.judge_number`): "printed" is the relative slack for the binary
# representation of the printed decimal itself and the float64 rounding of the true value (eps/2 per
# parse, a few eps for the forward/backward pass of a document's small net): 64 eps, relative to |true|.
#
# Hessian spectra (`numeric.spectrum`): "eigen_zero" times n max|lambda| is the zero-eigenvalue
# threshold (the matrix-rank convention n eps |H| with 1000x room for the engines' rounding); "rank" is
# the relative singular-value cut that ranks the rigid-motion vectors (collinear or coincident nodes
# lose rotations exactly, generic ones keep O(1) values). `spectrum` works on float64 Hessians and reads
# the float64 row; the float32 row scales by eps32 for a caller judging a float32 Hessian.
TOLERANCES: dict[str, dict[str, float]] = {
    "float64": {
        "loss": 1e-12,
        "dW": 1e-10,
        "dtheta": 1e-10,
        "dZ": 1e-9,
        "db": 1e-10,
        "dX": 1e-10,
        "hvp": 1e-8,
        "fd": 1e-5,
        "translation": 1e-12,
        "rotation": 1e-12,
        "permutation": 1e-12,
        "hessian_symmetry": 1e-12,
        "hessian_translation": 1e-12,
        "hessian_rotation": 1e-12,
        "taylor_grad": 1.9,
        "taylor_hvp": 2.9,
        "taylor_floor": 1e3 * _EPS64,
        "formula_rtol": 1e-7,
        "formula_atol": 1e-10,
        "printed": 64 * _EPS64,
        "noise": 100 * _EPS64,
        "eigen_zero": 1e3 * _EPS64,
        "rank": 1e-10,
    },
    "float32": {
        "loss": 1e-5,
        "dW": 1e-4,
        "dtheta": 1e-4,
        "dZ": 1e-3,
        "db": 1e-4,
        "dX": 1e-4,
        "hvp": 1e-3,
        "fd": 5e-2,
        "translation": 5e-4,
        "rotation": 5e-4,
        "permutation": 5e-4,
        "hessian_symmetry": 5e-4,
        "hessian_translation": 5e-4,
        "hessian_rotation": 5e-4,
        "taylor_grad": 1.9,
        "taylor_hvp": 2.9,
        "taylor_floor": 1e3 * _EPS64,
        "formula_rtol": 1e-3,
        "formula_atol": 1e-5,
        "printed": 1e-6,
        "noise": 100 * _EPS32,
        "eigen_zero": 1e3 * _EPS32,
        "rank": 1e-4,
    },
}


def tolerance(dtype, quantity: str) -> float:
    """The tolerance of `quantity` for an engine computing in `dtype` (a row of `TOLERANCES`): the one
    reader of the table (verify, check-grad, claims, formula claims, Taylor, spectra all call it).

    Raises:
        SpecError: an unknown dtype or quantity (never a silent default), in one line naming the known ones.
    """
    try:
        name = np.dtype(dtype).name if dtype is not None else "None"  # np.dtype(None) would be float64
    except TypeError:
        name = repr(dtype)
    row = TOLERANCES.get(name)
    if row is None:
        raise SpecError(f"no tolerances for dtype {name}", f"use one of {', '.join(TOLERANCES)}")
    if quantity not in row:
        raise SpecError(
            f"no tolerance for quantity {quantity!r} ({name})",
            f"use one of {', '.join(row)} or add a row to numeric.compare.TOLERANCES",
        )
    return row[quantity]
