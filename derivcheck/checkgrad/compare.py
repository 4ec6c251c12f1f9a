"""Comparison of a user's quantities with the 50-digit ground truth (check-grad).

`compare` judges each returned quantity normwise (numeric.compare.rel_error against the tolerance
table, read by numeric.compare.tolerance) and names its worst entry as verify and claims do
(numeric.compare.worst_entry, every number from 1): "dZ of layer 2, node 3, dim 1" (a `Mismatch`). `flat`,
`close` and `layout_ok` are the diagnosis' tools (derivcheck.checkgrad.diagnose, derivcheck.checkgrad.diagnose_family).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from numeric.compare import rel_error, tolerance, worst_entry
from numeric.draws import Case

__all__ = ["Mismatch", "truth_of", "compare", "flat", "close", "layout_ok"]


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


def layout_ok(u, t) -> bool:
    return not isinstance(u, list) or all(np.shape(a) == np.shape(b) for a, b in zip(u, t))


def compare(got: dict, truth: dict, dtype=np.float64) -> list[Mismatch]:
    """Every returned quantity against the truth: normwise relative error > the table's tolerance."""
    out = []
    for q, u in got.items():
        tol = tolerance(dtype, q)
        if not layout_ok(u, truth[q]):
            rel = float("inf")
        else:
            rel = rel_error(u, truth[q])
            rel = float("inf") if not np.isfinite(rel) else rel
        if not rel <= tol:
            where, v, t = worst_entry(q, u, truth[q])
            out.append(Mismatch(q, where, v, t, rel, tol, float(np.max(np.abs(flat(truth[q])), initial=0.0))))
    return out


def flat(x) -> np.ndarray:
    if isinstance(x, list):
        return np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in x]) if x else np.zeros(0)
    return np.asarray(x, dtype=np.float64).reshape(-1)


def close(u, v, dtol: float) -> bool:
    a, b = flat(u), flat(v)
    return a.shape == b.shape and bool(np.all(np.isfinite(a))) and rel_error(a, b) <= dtol
