"""Shrinking a failing case to a minimal counterexample, and the "error grows as nodes approach" sweep:
both call the user's function again, through one `Judge` (fn and the ground truth on one case).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from derivcheck.checkgrad.compare import compare, truth_of
from derivcheck.checkgrad.userfn import call
from derive import SpecError
from numeric.compare import Finding, tolerance
from numeric.draws import Case, drop_layer, drop_node, drop_nodes, drop_rows, place_pair, rounded, with_dtype
from numeric.variants import edge_term

__all__ = ["Judge", "shrink_case", "separation_sweep", "SWEEP", "SHRINK_BUDGET", "GROWTH"]

SWEEP = (1.0, 1e-2, 1e-4, 1e-6)  # node separations of the "error grows as nodes approach" diagnosis
SHRINK_BUDGET = 150  # calls of fn while shrinking
GROWTH = 100  # how much larger than every dZ error at separation 1 the error of a near pair must get


class Judge:
    """Runs fn and the ground truth on cases; counts fn calls."""

    def __init__(self, fn: Callable, torch: bool, dtype):
        self.fn, self.torch, self.dtype, self.calls = fn, torch, np.dtype(dtype).type, 0

    def prepare(self, case: Case) -> Case:
        return case if self.dtype is np.float64 else with_dtype(case, self.dtype)

    def run(self, case: Case) -> tuple[dict, dict, list[Finding]]:
        """(fn's quantities, truth, mismatches); `SpecError` from fn or the truth propagates."""
        self.calls += 1
        got = call(self.fn, case, torch=self.torch, dtype=self.dtype)
        truth = truth_of(case)
        return got, truth, compare(got, truth, self.dtype)

    def fails(self, case: Case) -> list[Finding] | None:
        """The mismatches of a shrinking candidate, or None when it passes or fn/the truth refuse it
        (fn is not generic for that size, or nodes coincide where the gradient is undefined)."""
        try:
            found = self.run(self.prepare(case))[2]
        except SpecError:
            return None
        return found or None


def shrink_case(judge: Judge, case: Case, found: list[Finding]) -> tuple[Case, list[Finding]]:
    """Greedy: one row, then drop layers and nodes while it still fails, then the widest separation of a
    placed node pair, then the roundest numbers. Each accepted step keeps the case failing."""

    # the shrunk case keeps the mistake the user is shown: it must still fail on dZ (the product's subject)
    # when dZ failed, else on the first failing quantity (rounding X to 0 left a one-edge case failing only
    # in dX, where no dZ error can grow as nodes approach)
    want = next((f.quantity for f in found if f.quantity == "dZ"), found[0].quantity if found else None)

    def accept(candidate: Case | None) -> bool:
        nonlocal case, found
        if candidate is None or judge.calls > start + SHRINK_BUDGET:
            return False
        f = judge.fails(candidate)
        if f and (want is None or any(x.quantity == want for x in f)):
            case, found = candidate, f
            return True
        return False

    start = judge.calls
    if case.batch > 1:
        any(accept(drop_rows(case, [r])) for r in range(case.batch))
    # halves first (a 256-128-10 counterexample shrank node by node to 107-10 within the call budget):
    # drop the upper, then the lower half of the widest layer's nodes while the case still fails
    halved = True
    while halved:
        N = case.net.widths
        widest = [(l, n) for l, n in sorted(enumerate(N), key=lambda t: -t[1]) if n > 1]
        halves = [(l, half) for l, n in widest for half in (range(n // 2, n), range(n // 2))]
        halved = any(accept(drop_nodes(case, l, ks)) for l, ks in halves)
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
    """'error grows as nodes approach' when the absolute error of fn's dZ at the moved node grows as two
    nodes of adjacent layers are brought together (separations 1 .. 1e-6): its largest value below
    separation 1 is at least GROWTH times the largest dZ error of any node at separation 1 (so an error
    that merely stays, as from a halved penalty or a missing factor, is not named) and fails the tolerance.
    The moved edge's own term of eq. (8) goes to 0 like r; the error relative to it is printed only as
    the size of the mistake on that edge."""
    if not case.net.spatial:
        return None
    l, i, j = case.pair or (1, 0, 0)
    errs, edge, base, scale = [], [], 0.0, []
    for sep in SWEEP:
        c = judge.prepare(place_pair(case, l, i, j, sep))
        try:
            got, truth, _ = judge.run(c)
        except SpecError:
            return None
        if "dZ" not in got:
            return None
        diff = [np.abs(np.asarray(u, dtype=np.float64) - t) for u, t in zip(got["dZ"], truth["dZ"])]
        if not all(np.all(np.isfinite(d)) for d in diff):
            return None
        errs.append(float(diff[l][i].max()))
        base = base or max(float(d.max(initial=0.0)) for d in diff)  # every node, at separation 1
        scale.append(max(float(np.abs(t).max(initial=0.0)) for t in truth["dZ"]))
        edge.append(float(np.abs(edge_term(c.net, c.params.Z, truth["dW"], l, i, j, c.params.theta)).max()))  # type: ignore[arg-type]
    k = 1 + int(np.argmax(errs[1:]))  # the separation below 1 where the error peaks
    if not (errs[k] >= GROWTH * max(base, 1e-300) and errs[k] > tolerance(judge.dtype, "dZ") * scale[k]):
        return None
    seps = [f"{s:g}" if s >= 1 else f"1e{round(np.log10(s))}" for s in SWEEP]
    steps = ", ".join(f"{e:.2g} at {'separation ' if n == 0 else ''}{s}" for n, (e, s) in enumerate(zip(errs, seps)))
    share = f"; {errs[k] / edge[k]:.2g} of that edge's term of eq. (8) at {seps[k]}" if edge[k] > 0 else ""
    return (
        f"error grows as nodes approach: {steps} (absolute error of the dZ of node {i + 1} of layer {l + 1}, "
        f"moved towards node {j + 1} of layer {l}{share})"
    )
