"""Comparison of a user's quantities with the 50-digit ground truth (check-grad): the judge of verify.

`compare` judges each returned quantity with numeric.compare.check_close, as verify's check_gradients
does: normwise relative error against the tolerance table (numeric.compare.tolerance), with the
rounding-noise floor of 100 eps x the problem's scale S (numeric.compare.problem_scale: max(|loss|,
largest true gradient entry)), so a value equal to float64 evaluation of the same formula (s (1 - s) at
|h| = 31: 4.7e-16 off a truth of 2e-13) is never a failure; its worst entry is named by
numeric.compare.worst_entry (every number from 1): a `numeric.compare.Finding`. `flat`, `close` and
`layout_ok` are the diagnosis' tools (derivcheck.checkgrad.diagnose, derivcheck.checkgrad.diagnose_family).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numeric.compare import Finding, check_close, locate, problem_scale, rel_error, tolerance
from numeric.draws import Case

__all__ = ["ENGINE", "truth_of", "compare", "finding_dict", "flat", "close", "layout_ok"]

ENGINE = "fn"  # how a finding names the user's function ("dZ of layer 2, node 1, dim 2 (fn vs ground truth): ...")


def truth_of(case: Case) -> dict[str, Any]:
    """The 50-digit ground truth of every quantity (float64), by name."""
    from derive import symbolic

    g = symbolic.gradients(case.net, case.params, case.X, case.Y, dps=50, backend="arb")
    out = {"loss": g.loss, "dW": g.dW, "dX": g.dX}
    # per example: row b = d(loss of example b)/dx_b, the loss of a batch of one (derivcheck.checkgrad.userfn)
    obj, K = case.net.objective, case.net.widths[-1]
    out["dX_per_example"] = np.asarray(g.dX, dtype=np.float64) * (obj.divisor(case.batch, K) / obj.divisor(1, K))
    if g.dZ is not None:
        out["dZ"] = g.dZ
    if g.db is not None:
        out["db"] = g.db
    if g.dtheta is not None:  # free amplitudes
        out["dtheta"] = g.dtheta
    return out


_AS = {"dX_per_example": "dX"}  # derived quantities: judged and named as the quantity they derive from


def layout_ok(u, t) -> bool:
    return not isinstance(u, list) or all(np.shape(a) == np.shape(b) for a, b in zip(u, t))


def _layout(q: str, u: list, t: list, tol: float) -> Finding:
    """A per-layer list with a layer of the wrong shape (a transposed dW): a shape finding naming it."""
    from numeric.compare import ENTRIES

    first = ENTRIES.get(q, (1, ()))[0] or 1
    b = next(k for k, (a, s) in enumerate(zip(u, t)) if np.shape(a) != np.shape(s))
    got, want = np.shape(u[b]), np.shape(t[b])
    return Finding(
        q,
        ENGINE,
        float("inf"),
        tol,
        where=locate(q, b + first),
        value=got,
        truth=want,
        measure="shape",
        note=f"shape {got} where the true {q} has shape {want}",
    )


def compare(got: dict, truth: dict, dtype=np.float64) -> list[Finding]:
    """The failed findings of every returned quantity against the truth: numeric.compare.check_close
    with the rounding-noise floor of the problem's scale (verify's check_gradients, on fn's dict)."""
    # an unknown quantity or dtype: the reader's SpecError, first; dX_per_example is judged as dX is
    tols = {q: tolerance(dtype, _AS.get(q, q)) for q in got}
    S = problem_scale({q: v for q, v in truth.items() if q not in _AS})  # the problem's scale, as verify's
    out = []
    for q, u in got.items():
        if not layout_ok(u, truth[q]):
            out.append(_layout(q, u, truth[q], tols[q]))
            continue
        f = check_close(q, ENGINE, u, truth[q], dtype, tols[q], entries_as=_AS.get(q), scale=S)
        if not f.ok:
            out.append(f)
    return out


def finding_dict(f: Finding) -> dict[str, Any]:
    """A finding as JSON (results.json, CheckResult.to_dict): entry, both values, error and tolerance."""

    def num(x):
        return list(x) if isinstance(x, tuple) else x

    return {
        "quantity": f.quantity,
        "where": f.where.strip(),
        "value": num(f.value),
        "truth": num(f.truth),
        "error": f.error,
        "tol": f.tol,
        "measure": f.measure,
        "ulp": f.ulp if np.isfinite(f.ulp) else None,
        "note": f.note,
        "message": f.describe(reproduce=False),
    }


def flat(x) -> np.ndarray:
    if isinstance(x, list):
        return np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in x]) if x else np.zeros(0)
    return np.asarray(x, dtype=np.float64).reshape(-1)


def close(u, v, dtol: float) -> bool:
    a, b = flat(u), flat(v)
    return a.shape == b.shape and bool(np.all(np.isfinite(a))) and rel_error(a, b) <= dtol
