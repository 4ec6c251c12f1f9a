"""Shrinking a failing case to a minimal counterexample, and the "error grows as nodes approach" sweep:
both call the user's function again, through one `Judge` (fn and the ground truth on one case).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from derive import SpecError
from numeric.draws import Case, drop_layer, drop_node, drop_rows, place_pair, rounded, with_dtype
from numeric.variants import edge_term

from .diagnose import Mismatch, compare, tolerance, truth_of
from .userfn import call

__all__ = ["Judge", "shrink_case", "separation_sweep", "SWEEP", "SHRINK_BUDGET"]

SWEEP = (1.0, 1e-2, 1e-4, 1e-6)  # node separations of the "error grows as nodes approach" diagnosis
SHRINK_BUDGET = 150  # calls of fn while shrinking


class Judge:
    """Runs fn and the ground truth on cases; counts fn calls."""

    def __init__(self, fn: Callable, torch: bool, dtype):
        self.fn, self.torch, self.dtype, self.calls = fn, torch, np.dtype(dtype).type, 0

    def prepare(self, case: Case) -> Case:
        return case if self.dtype is np.float64 else with_dtype(case, self.dtype)

    def run(self, case: Case) -> tuple[dict, dict, list[Mismatch]]:
        """(fn's quantities, truth, mismatches); `SpecError` from fn or the truth propagates."""
        self.calls += 1
        got = call(self.fn, case, torch=self.torch, dtype=self.dtype)
        truth = truth_of(case)
        return got, truth, compare(got, truth, self.dtype)

    def fails(self, case: Case) -> list[Mismatch] | None:
        """The mismatches of a shrinking candidate, or None when it passes or fn/the truth refuse it
        (fn is not generic for that size, or nodes coincide where the gradient is undefined)."""
        try:
            found = self.run(self.prepare(case))[2]
        except SpecError:
            return None
        return found or None


def shrink_case(judge: Judge, case: Case, found: list[Mismatch]) -> tuple[Case, list[Mismatch]]:
    """Greedy: one row, then drop layers and nodes while it still fails, then the widest separation of a
    placed node pair, then the roundest numbers. Each accepted step keeps the case failing."""

    def accept(candidate: Case | None) -> bool:
        nonlocal case, found
        if candidate is None or judge.calls > start + SHRINK_BUDGET:
            return False
        f = judge.fails(candidate)
        if f:
            case, found = candidate, f
        return bool(f)

    start = judge.calls
    if case.batch > 1:
        any(accept(drop_rows(case, [r])) for r in range(case.batch))
    changed = True
    while changed:
        N = case.net.widths
        # (layer, None): drop that hidden layer; (layer, k): drop node k of it
        cands: list[tuple[int, int | None]] = [(l, None) for l in range(1, len(N) - 1)]
        cands += [(l, k) for l in sorted(range(len(N)), key=lambda i: -N[i]) for k in range(N[l])]
        changed = any(accept(drop_layer(case, l) if k is None else drop_node(case, l, k)) for l, k in cands)
    if case.pair is not None and case.sep:
        l, i, j = case.pair
        wider = [s for s in (1.0, 0.1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6) if s > case.sep]
        any(accept(place_pair(case, l, i, j, s)) for s in wider)
    any(accept(rounded(case, d)) for d in (0, 1, 2))
    return case, found


def separation_sweep(judge: Judge, case: Case) -> str | None:
    """'error grows as nodes approach' when fn's dZ error, relative to the moved edge's own term of
    eq. (8), grows as two nodes of adjacent layers are brought together (separations 1 .. 1e-6)."""
    if not case.net.spatial:
        return None
    l, i, j = case.pair or (1, 0, 0)
    errs = []
    for sep in SWEEP:
        c = judge.prepare(place_pair(case, l, i, j, sep))
        try:
            got, truth, _ = judge.run(c)
        except SpecError:
            return None
        if "dZ" not in got:
            return None
        term = np.abs(edge_term(c.net, c.params.Z, truth["dW"], l, i, j)).max()  # type: ignore[arg-type]
        err = float(np.abs(got["dZ"][l][i] - truth["dZ"][l][i]).max() / max(term, 1e-300))
        errs.append(err)
    tol = tolerance(judge.dtype, "dZ")
    rising = all(b >= 0.5 * a for a, b in zip(errs, errs[1:]))
    if not (rising and errs[-1] > tol and errs[-1] >= 100 * max(errs[0], 1e-300)):
        return None
    seps = [f"{s:g}" if s >= 1 else f"1e{round(np.log10(s))}" for s in SWEEP]
    steps = ", ".join(f"{e:.2g} at {'separation ' if k == 0 else ''}{s}" for k, (e, s) in enumerate(zip(errs, seps)))
    return (
        f"error grows as nodes approach: {steps} (node {i + 1} of layer {l + 1} moved towards node {j + 1} of "
        f"layer {l}; error of its dZ relative to that edge's term of eq. (8))"
    )
