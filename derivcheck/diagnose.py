"""Comparison of a user's quantities with the ground truth, and the diagnosis of a mismatch.

`compare` judges each returned quantity normwise (numeric.compare.rel_error against the tolerance
table) and names its worst entry, 1-based: "dZ of layer 2, node 3, dim 1". `diagnose` names the kind
of mistake where one fits, from exact variants of the truth (numeric.variants): a constant factor
(sign, 1/2, loss mean vs sum), the truth transposed, eq. (8) without one of its terms, h in place of a,
a missing bias gradient, NaN at coincident nodes. The "error grows as nodes approach" diagnosis needs
further calls of the user's function and lives in derivcheck.shrink.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from derive import Net, SpecError
from numeric.compare import TOLERANCES, rel_error
from numeric.draws import Case
from numeric.variants import eq8_terms, pre_activation

__all__ = ["Mismatch", "truth_of", "compare", "diagnose", "tolerance"]


@dataclass
class Mismatch:
    """One quantity of one case that disagrees with the ground truth (entry 1-based)."""

    quantity: str
    where: str
    value: float
    truth: float
    rel: float
    tol: float
    scale: float = 1.0  # max |truth| of the quantity (0: the truth is zero everywhere)

    def line(self) -> str:
        if np.isnan(self.value) and np.isnan(self.truth):  # a layer returned with its axes swapped
            return f"{self.quantity}{self.where}"
        if self.scale == 0:
            err = f"error {abs(self.value - self.truth):.3g} where the true {self.quantity} is 0 on every entry"
        else:
            err = f"relative error {self.rel:.3g} > tolerance {self.tol:.0e}"
        return f"{self.quantity}{self.where}: {self.value!r} vs true {self.truth!r}, {err}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "quantity": self.quantity,
            "where": self.where.strip(),
            "value": self.value,
            "truth": self.truth,
            "rel": self.rel,
            "tol": self.tol,
            "scale": self.scale,
        }


def tolerance(dtype, quantity: str) -> float:
    return TOLERANCES[np.dtype(dtype).name][quantity]


def truth_of(case: Case) -> dict[str, Any]:
    """The 50-digit ground truth of every quantity (float64), by name."""
    from derive import symbolic

    g = symbolic.gradients(case.net, case.params, case.X, case.Y, dps=50)
    out = {"loss": g.loss, "dW": g.dW, "dX": g.dX}
    if g.dZ is not None:
        out["dZ"] = g.dZ
    if g.db is not None:
        out["db"] = g.db
    if g.dtheta is not None:  # free amplitudes
        out["dtheta"] = g.dtheta
    return out


def _layout_ok(u, t) -> bool:
    return not isinstance(u, list) or all(np.shape(a) == np.shape(b) for a, b in zip(u, t))


def _entry(q: str, l: int | None, k: tuple) -> str:
    k1 = [i + 1 for i in k]
    if q == "loss":
        return ""
    if q == "dX":
        return f" row {k1[0]}, input {k1[1]}"
    layer = f" of layer {l + (1 if q == 'dZ' else 2)}"  # type: ignore[operator]
    if q == "dZ":
        return f"{layer}, node {k1[0]}, dim {k1[1]}"
    if q == "db":
        return f"{layer}, node {k1[0]}"
    return f"{layer}, entry ({k1[0]}, {k1[1]})"


def _worst(q: str, u, t) -> tuple[str, float, float]:
    if not isinstance(u, list):
        ua, ta = np.asarray(u, dtype=np.float64), np.asarray(t, dtype=np.float64)
        k = np.unravel_index(np.nanargmax(np.where(np.isfinite(ua), np.abs(ua - ta), np.inf)), ua.shape) if ua.ndim else ()
        return _entry(q, None, tuple(k)), float(ua[k]), float(ta[k])
    best = (-1.0, "", np.nan, np.nan)
    for l, (a, b) in enumerate(zip(u, t)):
        if a.size == 0:
            continue
        if a.shape != b.shape:
            return f" of layer {l + (1 if q == 'dZ' else 2)}: shape {a.shape}, expected {b.shape}", np.nan, np.nan
        d = np.where(np.isfinite(a), np.abs(a - b), np.inf)
        k = np.unravel_index(np.argmax(d), a.shape)
        if d[k] > best[0]:
            best = (float(d[k]), _entry(q, l, tuple(k)), float(a[k]), float(b[k]))
    return best[1], best[2], best[3]


def compare(got: dict, truth: dict, dtype=np.float64) -> list[Mismatch]:
    """Every returned quantity against the truth: normwise relative error > the table's tolerance."""
    out = []
    for q, u in got.items():
        tol = tolerance(dtype, q)
        if not _layout_ok(u, truth[q]):
            rel = float("inf")
        else:
            rel = rel_error(u, truth[q])
            rel = float("inf") if not np.isfinite(rel) else rel
        if not rel <= tol:
            where, v, t = _worst(q, u, truth[q])
            out.append(Mismatch(q, where, v, t, rel, tol, float(np.max(np.abs(_flat(truth[q])), initial=0.0))))
    return out


def _flat(x) -> np.ndarray:
    if isinstance(x, list):
        return np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in x]) if x else np.zeros(0)
    return np.asarray(x, dtype=np.float64).reshape(-1)


def _close(u, v, dtol: float) -> bool:
    a, b = _flat(u), _flat(v)
    return a.shape == b.shape and bool(np.all(np.isfinite(a))) and rel_error(a, b) <= dtol


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
    a, b = _flat(u) if _layout_ok(u, t) else None, _flat(t)
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
            if _close(uu, tt, dtol):
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
        if _close(u, back, dtol):
            return "matches the truth without the forward term of eq. (8) (the sum over the nodes k of layer l+1)"
        if _close(u, fwd, dtol):
            return "matches the truth without the backward term of eq. (8) (the sum over the nodes j of layer l-1)"
    if q in ("dW", "dZ"):
        if "pre" not in variants:
            variants["pre"] = pre_activation(case.net, case.params, case.X, case.Y)
        pre = variants["pre"]
        if q in pre and _close(u, pre[q], dtol) and not _close(t, pre[q], dtol):
            return "matches with the pre-activation h in place of a (dW_l = delta_l^T a_(l-1), not delta_l^T h_(l-1))"
    if q in ("dW", "dZ", "dtheta") and case.net.spatial and case.net.penalties:
        return _penalty_mistake(case, q, u, t, dtol, variants)
    return None


def _truth_with(case: Case, net) -> dict[str, Any] | None:
    """The truth of the same numbers on a variant of the net (None where that net refuses them)."""
    try:
        return truth_of(replace(case, net=net))
    except SpecError:
        return None


def _penalty_mistake(case: Case, q: str, u, t, dtol: float, variants) -> str | None:
    """Mistakes in a penalty's gradient (MATH.md "The wider model family"): at half its value, missing,
    taken at the wrong layer's coordinates, or a wiring cost |w| r whose d|w|/dw forgets sign(w)."""
    net = case.net
    assert isinstance(net, Net)  # the caller checked: a spatial net with penalties
    if "no_penalty" not in variants:
        variants["no_penalty"] = _truth_with(case, replace(net, penalties=()))
    base = variants["no_penalty"]
    if base is not None and q in base:
        half = [b + (x - b) / 2 for x, b in zip(t, base[q])]
        if _close(u, half, dtol):
            return "matches with the penalty's gradient at half its value (d/dr (s (r - q0))^2 = 2 s^2 (r - q0))"
        if _close(u, base[q], dtol):
            return "matches the data loss's gradient alone: the penalty's gradient is missing"
    for k, p in enumerate(net.penalties):
        covered = p.covers(net.L)
        for shift in (-1, 1):
            moved = tuple(l + shift for l in covered)
            if not all(2 <= l <= net.L for l in moved):
                continue
            pens = list(net.penalties)
            pens[k] = replace(p, layers=moved)
            key: tuple = ("moved", k, shift)
            if key not in variants:
                variants[key] = _truth_with(case, replace(net, penalties=tuple(pens)))
            alt = variants[key]
            if alt is not None and q == "dZ" and _close(u, alt[q], dtol) and not _close(t, alt[q], dtol):
                return (
                    f"matches with the penalty {p.rho!r} of layer(s) {list(covered)} differentiated with "
                    f"the coordinates of layer(s) {list(moved)}"
                )
        if "abs(w)" in p.rho.replace(" ", ""):
            key = ("unsigned", k)
            if key not in variants:
                pens = list(net.penalties)
                pens[k] = replace(p, rho=p.rho.replace(" ", "").replace("abs(w)", "w"))
                variants[key] = _truth_with(case, replace(net, penalties=tuple(pens)))
            alt = variants[key]
            if alt is not None and q in alt and q != "dZ" and _close(u, alt[q], dtol):
                return f"matches with d|w|/dw = 1: the gradient of {p.rho!r} forgets sign(w)"
    return None


def diagnose(case: Case, got: dict, truth: dict, mismatches: list[Mismatch], dtype=np.float64) -> list[str]:
    """Name the mistake behind each mismatching quantity where one fits; quantities with the same
    diagnosis share a line ("dZ, dW: sign flipped ...")."""
    variants: dict[str, Any] = {"truth_dW": truth["dW"]}
    if "loss" in got and truth["loss"] != 0:
        variants["loss_factor"] = got["loss"] / truth["loss"]
    by_text: dict[str, list[str]] = {}
    for m in mismatches:
        dtol = max(1e-6, 10 * tolerance(dtype, m.quantity))
        text = _one(case, m.quantity, got[m.quantity], truth[m.quantity], dtol, variants)
        if text is not None:
            by_text.setdefault(text, []).append(m.quantity)
    return [f"{', '.join(qs)}: {text}" for text, qs in by_text.items()]
