"""The one failure path: `Finding` (one check: quantity, place, engines, both values, error, tolerance,
seed, command), `report` (records a failed finding or raises it as `derive.VerificationError`),
`Findings` (a run's collector), `MEASURES` (the error measures a finding can carry), and the one way
to name an entry: `locate` (" of layer 2, node 1, dim 2": layers, nodes, dims, rows, columns and
examples all numbered from 1, as MATH.md numbers layers) and `worst_entry` (the entry farthest from
the truth, named by `locate`). verify, check-grad and claims all name entries through them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from derive import SpecError, VerificationError

__all__ = ["MEASURES", "Finding", "report", "Findings", "ENTRIES", "locate", "worst_entry"]


#: error measure -> (how the message names it, whether the error must stay at or below the tolerance).
#: "slope" is the other way round: the tolerance is the minimum slope.
MEASURES = {
    "rel": ("relative error", True),
    "ulp": ("error in ulps", True),
    "abs": ("absolute error", True),
    "slope": ("fitted slope", False),
    "shape": ("shape", True),
}


#: How a message names an entry of a quantity: quantity -> (layer of the first array of its per-layer
#: list, names of its axes). Array b (0-based) of a per-layer list is layer b + first; None: one array,
#: no layer. An array with fewer axes than names has lost its leading (batch) axis: one example.
ENTRIES: dict[str, tuple[int | None, tuple[str, ...]]] = {
    **dict.fromkeys(("dZ", "Z", "Z+"), (1, ("node", "dim"))),
    **dict.fromkeys(("dW", "W", "W+", "dtheta", "theta", "R", "jacobian"), (2, ("row", "col"))),
    **dict.fromkeys(("db", "b", "b+"), (2, ("node",))),
    **dict.fromkeys(("z", "h", "a", "delta", "dA", "dact"), (1, ("example", "node"))),
    **dict.fromkeys(("dX", "X"), (None, ("example", "input"))),
}


def locate(quantity: str, layer: int | None, index=(), *, block: bool = False) -> str:
    """The words for one entry of `quantity`, every number from 1 (as MATH.md numbers layers).

    Args:
        quantity: a key of `ENTRIES` names the axes ("dZ": node, dim); any other gives "entry (i, j)".
        layer: the entry's layer, 1-based (MATH.md's numbering), or None for a quantity without layers.
        index: the entry's 0-based NumPy index within that layer's array (() for a scalar).
        block: `layer` is the 1-based number of an unnamed block (an H v over mixed blocks), not a layer.

    Returns:
        e.g. " of layer 2, node 1, dim 2" for index (0, 1) of dZ's second array, " of example 1, input 3",
        " of layer 3" (a scalar per layer), " of block 2, entry (3, 1)", " entry 5", or "" (a scalar).
    """
    k = [int(i) + 1 for i in index]
    names = ENTRIES.get(quantity, (None, ()))[1]
    parts = [f"{'block' if block else 'layer'} {layer}"] if layer is not None else []
    if k and len(k) <= len(names):
        parts += [f"{n} {i}" for n, i in zip(names[len(names) - len(k) :], k)]
    elif k:
        entry = f"entry {k[0]}" if len(k) == 1 else f"entry ({', '.join(map(str, k))})"
        if not parts:
            return f" {entry}"
        parts.append(entry)
    return " of " + ", ".join(parts) if parts else ""


def _gap(a: np.ndarray, t: np.ndarray) -> np.ndarray:
    """|a - t| entrywise, non-finite differences (a NaN, an inf) counted as the largest."""
    with np.errstate(invalid="ignore", over="ignore"):
        d = np.abs(a - t)
    return np.where(np.isfinite(d), d, np.inf)


def worst_entry(quantity: str, x, truth, *, entries_as: str | None = None) -> tuple[str, float, float]:
    """(words, value, true value) of the entry of `x` farthest from `truth` (a NaN or inf counts as the
    farthest), named by `locate`. `x` and `truth` are one array or a per-layer list of arrays (the first
    array at layer `ENTRIES[quantity][0]`; quantities without a first layer number their arrays as
    blocks from 1). `entries_as` names the entries as for that quantity (an H v over the Z blocks:
    "dZ"). An array of the wrong shape in a list is named instead: " of layer 2: shape (3, 1),
    expected (3, 2)", with NaN values."""
    q = entries_as or quantity
    if not isinstance(x, (list, tuple)):
        xa, ta = np.asarray(x, dtype=np.float64), np.asarray(truth, dtype=np.float64)
        k = np.unravel_index(int(np.argmax(_gap(xa, ta))), xa.shape) if xa.ndim else ()
        return locate(q, None, k), float(xa[k]), float(ta[k])
    first = ENTRIES.get(q, (None, ()))[0]
    best: tuple[float, str, float, float] = (-1.0, "", float("nan"), float("nan"))
    for b, (a, t) in enumerate(zip(x, truth)):
        a, t = np.asarray(a, dtype=np.float64), np.asarray(t, dtype=np.float64)
        if a.size == 0:
            continue
        layer = b + (1 if first is None else first)
        if a.shape != t.shape:
            return f"{locate(q, layer, block=first is None)}: shape {a.shape}, expected {t.shape}", float("nan"), float("nan")
        d = _gap(a, t)
        k = np.unravel_index(int(np.argmax(d)), a.shape)
        if d[k] > best[0]:
            best = (float(d[k]), locate(q, layer, k, block=first is None), float(a[k]), float(t[k]))
    return best[1], best[2], best[3]


def _num(x: Any) -> str:
    """A value as printed in a finding: floats to every digit (shortest round-trip repr)."""
    if isinstance(x, (float, np.floating)):
        return repr(float(x))
    return x if isinstance(x, str) else repr(x)


@dataclass
class Finding:
    """One check: which quantity where, which engine against which reference, both values, the error
    in its measure, the tolerance, and the seed and command that reproduce it.

    Attributes:
        quantity: "dZ", "hvp", "translation", "grad" (Taylor), a formula claim's quantity, ...
        engine: who computed `value` ("manual", "torch-cpu", "claim 'x'", "taylor").
        error: the error in `measure` units (for "slope", the fitted slope itself).
        tol: the tolerance (for "slope", the minimum slope).
        where: the worst entry, e.g. " of layer 2, node 1, dim 2" (`locate`: every number from 1, as MATH.md).
        value, truth: the compared entries (or scalars: a residual and 0, a slope and its order).
        measure: a key of `MEASURES`. reference: what `truth` is ("ground truth", "manual engine").
        ulp: the same difference in ulps of the engine's dtype (entry comparisons), else NaN.
        seed, command: the seed of the case and the one-line command that reproduces it.
        note: what went wrong when it is not a number (a shape, an undefined formula).
    """

    quantity: str
    engine: str
    error: float
    tol: float
    where: str = field(default="", kw_only=True)
    value: Any = field(default=float("nan"), kw_only=True)
    truth: Any = field(default=float("nan"), kw_only=True)
    measure: str = field(default="rel", kw_only=True)
    reference: str = field(default="ground truth", kw_only=True)
    ulp: float = field(default=float("nan"), kw_only=True)
    seed: int | None = field(default=None, kw_only=True)
    command: str | None = field(default=None, kw_only=True)
    note: str = field(default="", kw_only=True)

    def __post_init__(self):
        if self.measure not in MEASURES:
            raise SpecError(f"unknown error measure {self.measure!r}", f"use one of {', '.join(MEASURES)}")

    @property
    def ok(self) -> bool:
        """Within tolerance (NaN errors fail)."""
        if self.note:
            return False
        below = MEASURES[self.measure][1]
        return bool(self.error <= self.tol) if below else bool(self.error > self.tol)

    @property
    def rel(self) -> float:
        """The relative error (NaN for other measures)."""
        return self.error if self.measure == "rel" else float("nan")

    def describe(self, *, reproduce: bool = True) -> str:
        """One line: quantity, place, engines, both values, error and tolerance, seed, command."""
        s = f"{self.quantity}{self.where} ({self.engine} vs {self.reference}): {_num(self.value)} vs {_num(self.truth)}, "
        name, below = MEASURES[self.measure]
        if self.note:
            s += self.note
        elif below:
            s += f"{name} {self.error:.3g} {'<=' if self.ok else '>'} tolerance {self.tol:.3g}"
            if self.measure == "rel" and not np.isnan(self.ulp):
                s += f" ({self.ulp:.3g} ulp)"
        else:
            s += f"{name} {self.error:.3f} {'above' if self.ok else 'not above'} the minimum {self.tol:.3g}"
        if self.seed is not None:
            s += f"; seed {self.seed}"
        if reproduce and self.command:
            s += f"; reproduce: {self.command}"
        return s


def report(finding: Finding, *, into: list[Finding] | None = None, raise_: bool = False) -> Finding:
    """The one failure path. A failed `finding` is appended to `into` and, with `raise_`, raised as
    `derive.VerificationError` (its `.finding` is the finding); a passing one is returned untouched.

    Raises:
        VerificationError: `finding` failed and `raise_` is set.
    """
    if finding.ok:
        return finding
    if into is not None:
        into.append(finding)
    if raise_:
        raise VerificationError(finding.describe(), finding=finding)
    return finding


class Findings:
    """Collects the findings of one run (one case, one claims file) with its seed and command.

    `findings.report(f)` fills in the seed and command when `f` has none and passes it to `report`:
    `checks` holds every finding, `failures` the failed ones; with `raise_` the first failure raises.
    """

    def __init__(self, *, seed: int | None = None, command: str | None = None, raise_: bool = False):
        self.seed, self.command, self.raise_ = seed, command, raise_
        self.checks: list[Finding] = []
        self.failures: list[Finding] = []

    def report(self, finding: Finding) -> Finding:
        if finding.seed is None:
            finding.seed = self.seed
        if finding.command is None:
            finding.command = self.command
        self.checks.append(finding)
        return report(finding, into=self.failures, raise_=self.raise_)

    @property
    def ok(self) -> bool:
        return not self.failures
