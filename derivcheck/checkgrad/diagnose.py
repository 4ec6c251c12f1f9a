"""The diagnosis of a mismatch between a user's quantities and the ground truth (check-grad).

`diagnose` names the kind of mistake where one fits, from exact variants of the truth
(numeric.variants): a constant factor (sign, 1/2, loss mean vs sum), the truth transposed, eq. (8)
without one of its terms, h in place of a, a missing bias gradient, NaN at coincident nodes; for the
wider model family (derivcheck.checkgrad.diagnose_family) a penalty term's gradient halved, missing, sign-flipped
or at the wrong layer, |w| without sign(w), theta left out of dJ/dr. The comparison itself lives in
derivcheck.checkgrad.compare; the "error grows as nodes approach" diagnosis needs further calls of the
user's function and lives in derivcheck.checkgrad.shrink.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from derivcheck.checkgrad.compare import close, flat, layout_ok
from derivcheck.checkgrad.diagnose_family import amplitude_mistake, penalty_mistake
from numeric.compare import Finding, rel_error, tolerance
from numeric.draws import Case
from numeric.variants import eq8_terms, pre_activation

__all__ = ["diagnose"]


def _factor_name(case: Case, c: float) -> str:
    """'= B*K: ...' when c is the batch size and/or output count (or its reciprocal): loss mean vs sum."""
    B, K = case.batch, case.net.widths[-1]
    names = {"B*K": B * K, "B": B, "K": K}
    loss, red = case.net.loss, case.net.objective.reduction
    for name, n in names.items():
        if n == 1:
            continue
        if np.isclose(c, n, rtol=1e-6):
            return (
                f" = {name}: loss mean vs sum (derivcheck's {loss!r} is a {red}: it divides by "
                f"{'B*K' if red == 'mean' else 'B'}; yours sums)"
                if red != "sum"
                else f" = {name}: loss mean vs sum (derivcheck's {loss!r} is a sum)"
            )
        if np.isclose(c, 1 / n, rtol=1e-6):
            return f" = 1/{name}: loss mean vs sum (derivcheck's {loss!r} is a {red}; yours divides by {name})"
    return ""


def _one(case: Case, q: str, u, t, dtol: float, variants) -> str | None:
    a, b = flat(u) if layout_ok(u, t) else None, flat(t)
    if a is not None and not np.all(np.isfinite(a)):
        at = (
            " at coincident nodes (r = 0): use phi(0) = lim g'(r)/r (= g''(0)) there, not g'(r)/r"
            if case.kind == "coincident"
            else ""
        )
        return f"returns NaN or inf{at}"
    if q == "db" and a is not None and not np.any(a) and np.any(b):
        return "is zero on every entry: the bias gradient is missing (db_l = sum over the batch of delta_l)"
    if q in ("dW", "dZ") and isinstance(u, list):
        tt = [np.asarray(x).T for x in t]
        uu = [x if x.shape == y.shape else x.T for x, y in zip(u, tt)]
        if any(x.shape != y.shape for x, y in zip(u, t)) or any(x.shape[0] == x.shape[1] for x in u):
            if close(uu, tt, dtol):
                return "equals the truth transposed" + (" (dW_l = delta_l^T a_(l-1) is N_l x N_(l-1))" if q == "dW" else "")
    if a is None:
        return None
    tt2 = float(b @ b)
    if tt2 > 0:
        c = float(a @ b) / tt2
        # a factor B or B*K is the loss's reduction only if the loss (when fn returns it) is off by it too
        lf = variants.get("loss_factor")
        named = _factor_name(case, c) if lf is None or np.isclose(lf, c, rtol=dtol) else ""
        # one number (the loss) always fits some factor: name it only when the factor means something
        telling = a.size > 1 or named or any(np.isclose(c, v, rtol=dtol) for v in (-1, 0.5, 2))
        if telling and abs(c - 1) > dtol and rel_error(a, c * b) <= dtol:
            if np.isclose(c, -1, rtol=dtol):
                return "sign flipped (the negative of the truth on every entry)"
            return f"off by a constant factor {c:.4f} on every entry{named}"
    if q == "dZ" and case.net.spatial:
        back, fwd = eq8_terms(case.net, case.params.Z, variants["truth_dW"])  # type: ignore[arg-type]
        if close(u, back, dtol):
            return "matches the truth without the forward term of eq. (8) (the sum over the nodes k of layer l+1)"
        if close(u, fwd, dtol):
            return "matches the truth without the backward term of eq. (8) (the sum over the nodes j of layer l-1)"
        text = amplitude_mistake(case, u, t, dtol, variants)
        if text is not None:
            return text
    if q in ("dW", "dZ"):
        if "pre" not in variants:
            variants["pre"] = pre_activation(case.net, case.params, case.X, case.Y)
        pre = variants["pre"]
        if q in pre and close(u, pre[q], dtol) and not close(t, pre[q], dtol):
            return "matches with the pre-activation h in place of a (dW_l = delta_l^T a_(l-1), not delta_l^T h_(l-1))"
    if q in ("dW", "dZ", "dtheta") and case.net.spatial and case.net.penalties:
        return penalty_mistake(case, q, u, t, dtol, variants)
    return None


def diagnose(case: Case, got: dict, truth: dict, mismatches: list[Finding], dtype=np.float64) -> list[str]:
    """Name the mistake behind each mismatching quantity where one fits; quantities with the same
    diagnosis share a line ("dZ, dW: sign flipped ...")."""
    variants: dict[str, Any] = {"truth_dW": truth["dW"]}
    if "loss" in got and truth["loss"] != 0:
        variants["loss_factor"] = got["loss"] / truth["loss"]
    family = ("dZ", "dW", "dtheta")  # what a penalty variant may fit: its mismatching quantities
    variants["others"] = {m.quantity: (got[m.quantity], truth[m.quantity]) for m in mismatches if m.quantity in family}
    by_text: dict[str, list[str]] = {}
    for m in mismatches:
        dtol = max(1e-6, 10 * tolerance(dtype, m.quantity))
        text = _one(case, m.quantity, got[m.quantity], truth[m.quantity], dtol, variants)
        if text is not None:
            by_text.setdefault(text, []).append(m.quantity)
    return [f"{', '.join(qs)}: {text}" for text, qs in by_text.items()]
