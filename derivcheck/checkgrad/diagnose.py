"""The diagnosis of a mismatch between a user's quantities and the ground truth (check-grad).

`diagnose` names the kind of mistake where one fits, from exact variants of the truth
(numeric.variants): a constant factor named by what it equals (sign; K outputs, B batch rows, B K, the
1/2 of a half-loss: loss mean vs sum, or a gradient not divided as the loss is; "per example" where dX
alone is B x the truth), the truth transposed, one term of eq. (8) (backward, forward) missing,
sign-flipped or scaled in every layer or in one, h in place of a, a missing bias gradient, NaN at
coincident nodes; for the wider model family (derivcheck.checkgrad.diagnose_family) a penalty term's
gradient halved, missing, sign-flipped, at its edge count, or at the wrong layer, |w| without sign(w),
theta left out of dJ/dr. The comparison itself lives in derivcheck.checkgrad.compare; the diagnoses that
call the user's function again live in derivcheck.checkgrad.kernel (the g'(r) or d rho/dr the code
implies) and derivcheck.checkgrad.shrink ("error grows as nodes approach").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from derivcheck.checkgrad.compare import close, flat, layout_ok
from derivcheck.checkgrad.diagnose_family import amplitude_mistake, penalty_mistake
from numeric.compare import Finding, rel_error
from numeric.draws import Case
from numeric.variants import eq8_terms, pre_activation

__all__ = ["diagnose"]


def _counts(case: Case) -> list[tuple[str, int, str]]:
    """The counts a factor may equal: (symbol, value, what it is) for B K, K, B (each > 1, each value once)."""
    B, K = case.batch, case.net.widths[-1]
    out: list[tuple[str, int, str]] = []
    for sym, n, what in (("B K", B * K, "the batch size times the number of outputs"), ("K", K, "the number of outputs")):
        if n > 1 and all(m != n for _, m, _ in out):
            out.append((sym, n, what))
    if B > 1 and all(m != B for _, m, _ in out):
        out.append(("B", B, "the batch size"))
    elif B > 1:  # B = K or B = B K: say both
        out = [(f"{sym} = B" if m == B else sym, m, what) for sym, m, what in out]
    return out


def _divisor_words(n: float, B: int, K: int) -> str:
    for words, m in (("B K", B * K), ("B", B), ("K", K), ("1 (a sum)", 1)):
        if np.isclose(n, m, rtol=1e-9):
            return words
    return f"{n:g}"


# the divisor fn's code implies -> how to state that convention (derive.primitives.losses)
_STATE = {
    words: f'; if that is your convention, state loss_reduction = "{r}" (--loss-reduction {r})'
    for words, r in (("B K", "mean"), ("B", "batch"), ("1 (a sum)", "sum"))
}


def _factor_name(case: Case, q: str, c: float, loss_factor: float | None, alone: bool, every: bool) -> str:
    """What a constant factor c equals, in the user's terms: K (outputs), B (batch), B K, the 1/2 of a
    half-loss; "per example" where only dX is off, by B. `loss_factor`: fn's loss / the true loss (None
    when fn returns no loss); `alone`: q is the only quantity off; `every`: every gradient fn returns is
    off (a loss's factor scales them all: dZ alone off by 1/2 is not the loss's reduction)."""
    net = case.net
    B, K = case.batch, net.widths[-1]
    loss = net.loss
    tol = 1e-6
    if net.penalties:  # J = L + penalties: a factor on L alone is not a factor on J's gradient
        return ""
    if q == "dX" and alone and B > 1 and np.isclose(c, B, rtol=tol):
        return (
            f" = B = {B}, the batch size, row by row: a per-example dX (row b = d(loss of example b)/dx_b), where "
            f"derivcheck's dX is d(loss)/dX of the whole batch's {loss!r}"
        )
    if not every:
        return ""
    # the 1/2 of a half-loss first: with K = 2 a factor 2 is also K, but a forgotten 1/2 is the usual cause;
    # where c is also a reduction's factor that a convention states (1/K = 1/2 under a stated "batch"), both
    half = ""
    if loss.endswith("_half") and np.isclose(c, 2, rtol=tol):
        half = f" = 2: the 1/2 of {loss!r} left out (d/da 1/2 (a - y)^2 = a - y)"
    if loss in ("mse", "sse") and np.isclose(c, 0.5, rtol=tol):
        half = f" = 1/2: the gradient of a half-loss (derivcheck's {loss!r} has no 1/2: d/da (a - y)^2 = 2 (a - y))"
    from derive import compile_net

    d = float(compile_net(net).divisor(B, K))
    for sym, n, meaning in _counts(case):
        for f, mine in ((n, d / n), (1 / n, d * n)):
            if not np.isclose(c, f, rtol=tol):
                continue
            one = sym.split(" = ")[0]
            what = f"{sym} = {n}, {meaning}" if f == n else f"1/{one if ' ' not in one else f'({one})'}, {sym} = {n} {meaning}"
            theirs, yours = _divisor_words(d, B, K), _divisor_words(mine, B, K)
            state = _STATE.get(yours, "")
            if half:  # the reduction's reading only where it names a convention and fn's loss (if any) agrees
                if not state or (loss_factor is not None and not np.isclose(loss_factor, c, rtol=tol)):
                    return half
                return f"{half}; or {what}: your loss divided by {yours}, derivcheck's {loss!r} by {theirs}{state}"
            if loss_factor is not None and np.isclose(loss_factor, c, rtol=tol):
                return f" = {what}: loss mean vs sum (derivcheck's {loss!r} divides by {theirs}; yours by {yours}){state}"
            right = " (your loss itself is right)" if loss_factor is not None and np.isclose(loss_factor, 1, rtol=tol) else ""
            # a right loss with a gradient off is a bug, not a convention: no hint to state one
            tail = right or state
            return f" = {what}: your gradient is that of a loss divided by {yours}, derivcheck's {loss!r} by {theirs}{tail}"
    return half


_TERMS = {  # term -> what it is
    "backward": "the sum over the nodes j of layer l-1: each edge's term for its target node",
    "forward": "the sum over the nodes k of layer l+1: each edge's term for its source node",
}


def _term_mistake(case: Case, u, t, dtol: float, variants) -> str | None:
    """dZ that is the truth with one term of eq. (8) missing, sign-flipped or scaled, in every layer or
    in one layer: u = t + (c - 1) term, c fitted by least squares and the fit held to `dtol`."""
    if "terms" not in variants:
        theta = case.params.theta
        G = variants["truth_dW"] if theta is None else [w * th for w, th in zip(variants["truth_dW"], theta)]
        back, fwd = eq8_terms(case.net, case.params.Z, G)  # type: ignore[arg-type]
        # with penalties dJ/dr has more than dJ/dW theta g'(r): the split holds only where it sums to the truth
        variants["terms"] = (back, fwd) if close([b + f for b, f in zip(back, fwd)], t, dtol) else None
    if variants["terms"] is None:
        return None
    L = case.net.L
    cands: list[tuple[str, int | None, list]] = []
    for name, term in zip(("backward", "forward"), variants["terms"]):
        cands.append((name, None, term))
        layers = range(1, L) if name == "backward" else range(L - 1)
        cands += [(name, l, [x if k == l else np.zeros_like(x) for k, x in enumerate(term)]) for l in layers] if L > 2 else []
    a, b = flat(u), flat(t)
    for name, l, term in cands:
        d = flat(term)
        dd = float(d @ d)
        if dd == 0:
            continue
        c = 1 + float((a - b) @ d) / dd
        rest = rel_error(a, b + (c - 1) * d)
        # the fit must explain the error (1 % left at most), not only pass dtol: an error below dtol (an eps
        # near two nodes) is 'fitted' by any term at a factor 1.0000
        if abs(c - 1) < 1e-3 or rest > dtol or rest > 0.01 * rel_error(a, b):
            continue
        term = f"the {name} term of eq. (8){'' if l is None else f' of layer {l + 1}'}"
        only = f" ({_TERMS[name]}{'' if l is None else '; the other layers are right'})"
        if abs(c) <= dtol:
            return f"matches the truth without {term}{only}"
        if np.isclose(c, -1, rtol=dtol):
            return f"matches the truth with the sign of {term} flipped{only}"
        return f"matches the truth with {term} scaled by {c:.4f}{only}"
    return None


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
        named = _factor_name(case, q, c, lf, variants.get("alone", False), variants.get("every", False))
        # one number (the loss) always fits some factor: name it only when the factor means something
        telling = a.size > 1 or named or any(np.isclose(c, v, rtol=dtol) for v in (-1, 0.5, 2))
        fit = rel_error(a, c * b)
        if telling and abs(c - 1) > dtol and fit <= dtol and fit <= 0.01 * rel_error(a, b):
            if np.isclose(c, -1, rtol=dtol):
                return "sign flipped (the negative of the truth on every entry)"
            return f"off by a constant factor {c:.4f} on every entry{named}"
    if q == "dZ" and case.net.spatial:
        text = _term_mistake(case, u, t, dtol, variants)
        if text is not None:
            return text
        text = amplitude_mistake(case, u, t, dtol, variants)
        if text is not None:
            return text
    if q in ("dW", "dZ"):
        if "pre" not in variants:
            variants["pre"] = pre_activation(case.net, case.params, case.X, case.Y)
        pre = variants["pre"]
        if q in pre and close(u, pre[q], dtol) and not close(t, pre[q], dtol):
            return "matches with the pre-activation h in place of a (dW_l = delta_l^T a_(l-1), not delta_l^T h_(l-1))"
    if q in ("dW", "dZ", "dtheta") and case.net.penalties:  # spatial nets' and an MLP's (on W)
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
    off = {m.quantity for m in mismatches}
    variants["alone"] = len(off) == 1
    variants["every"] = set(got) - {"loss"} <= off
    by_text: dict[str, list[str]] = {}
    for m in mismatches:
        dtol = max(1e-6, 10 * m.tol)  # the finding's own tolerance (dX_per_example: dX's)
        text = _one(case, m.quantity, got[m.quantity], truth[m.quantity], dtol, variants)
        if text is not None:
            by_text.setdefault(text, []).append(m.quantity)
    return [f"{', '.join(qs)}: {text}" for text, qs in by_text.items()]
