"""`derivcheck audit-kernel --penalty RHO`: is a penalty rho(r, w) safe to train coordinates with?

The kernel audit's questions, asked of rho (README "Model"; the maths is derive.primitives.penalty's):

    gradient_at_coincidence  dJ/dz exists where two nodes meet: rho_r(r, w) -> 0 as r -> 0+ for every w
                             and rho_r / r stays finite (`Penalty.gradient_at_0`); else the gradient has
                             a different limit for each direction and the engines refuse coincident nodes
    bounded_gradient         rho_r and rho_w are finite on a grid of r in [0, 1e4 s] and w in [-100, 100]
                             (s the largest parameter value or 1) and at the exact limit r -> 0+
    float32                  rho_r and rho_w evaluated in float32 against float64 on the same float32
                             (r, w), r in (0, 20 s]: error relative to max(|value|, 1e-3 max|value| of
                             that w), within numeric.compare's float32 tolerances of dZ and dW
    smooth                   rho is C2 away from r = 0 (`Penalty.smooth`): |w|, sign or pieces warn
                             (the subgradient at w = 0 is 0, as torch; a finite difference may cross it)

The result is the kernel audit's `Audit` of `Check`s (kind "penalty"), printed by the same table and
JSON (`derivcheck.audit.report`); ``--report`` is the kernel audit's alone.
"""

from __future__ import annotations

import time

import numpy as np

from derivcheck.audit.registry import Audit, Check
from derive import SpecError
from derive.primitives.penalty import Penalty
from derive.primitives.penalty_code import callables
from derive.step_limits import budget as sympy_budget
from numeric import scan
from numeric.compare import tolerance

__all__ = ["PENALTY_CHECKS", "W_GRID", "audit_penalty"]

PENALTY_CHECKS = ("gradient_at_coincidence", "bounded_gradient", "float32", "smooth")

#: weights the scans cover: 0, and +-10^k for k in -4..2 (61 log-spaced magnitudes a sign)
W_GRID = np.concatenate([-np.logspace(-4, 2, 61)[::-1], [0.0], np.logspace(-4, 2, 61)])


def _grid(p: Penalty) -> tuple[np.ndarray, float]:
    """(r grid of numeric.scan.grid at the penalty's scale, that scale)."""
    scale = max([abs(v) for _, v in p.pairs if v] + [1.0])
    return scan.grid([scale]), scale


def _gradient_at_coincidence(p: Penalty) -> Check:
    ev = {"decided": "symbolic", "lim rho_r (r -> 0+)": str(p.dr0), "lim rho_r / r (r -> 0+)": str(p.phi0)}
    if p.gradient_at_0:
        return Check(
            "gradient_at_coincidence",
            "pass",
            f"rho_r -> 0 and rho_r / r -> {p.phi0} as r -> 0: dJ/dz exists where two nodes meet",
            ev,
        )
    lim = f"{float(p.dr0):.6g}" if p.dr0.is_number and p.dr0_finite else str(p.dr0)
    return Check(
        "gradient_at_coincidence",
        "fail",
        f"rho_r -> {lim} as r -> 0, not 0 for every w: dJ/dz has a different limit for each direction "
        "from which two nodes meet (the engines refuse coincident nodes in the layers it covers)",
        ev,
    )


def _values(p: Penalty, r: np.ndarray, w: np.ndarray, dtype) -> dict[str, np.ndarray]:
    """rho_r and rho_w at every (r, w) of the grids (len(r) x len(w)), evaluated in `dtype`."""
    fns = callables(p, "numpy")
    R, W = np.asarray(r, dtype=dtype)[:, None], np.asarray(w, dtype=dtype)[None, :]
    with np.errstate(all="ignore"):
        return {k: np.asarray(fns[k](R, W)) for k in ("rho_r", "rho_w")}


def _bounded(p: Penalty) -> Check:
    r, scale = _grid(p)
    r = r[r > 0]  # r = 0 is the exact limit's
    vals = _values(p, r, W_GRID, np.float64)
    ev: dict = {
        "decided": "symbolic+numeric",
        "how": f"max over {r.size} r in (0, {r[-1]:.3g}] x {W_GRID.size} w in [-100, 100], and the exact limits at r -> 0+",
    }
    for k, v in vals.items():
        bad = ~np.isfinite(v)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            ev[f"sup|{k}|"] = "inf"
            return Check("bounded_gradient", "fail", f"{k} is not finite at r = {r[i]:.3g}, w = {W_GRID[j]:.3g}", ev)
        i, j = np.unravel_index(int(np.argmax(np.abs(v))), v.shape)
        ev[f"sup|{k}|"] = {"value": float(abs(v[i, j])), "at_r": float(r[i]), "at_w": float(W_GRID[j])}
    if not p.dr0_finite or p.at0["rho_w"] is None:
        which = "rho_r" if not p.dr0_finite else "rho_w"
        ev["lim rho_r (r -> 0+)"] = str(p.dr0)
        return Check("bounded_gradient", "fail", f"{which} is infinite as r -> 0+ (lim rho_r = {p.dr0})", ev)
    sr, sw = ev["sup|rho_r|"], ev["sup|rho_w|"]
    text = (
        f"sup|rho_r| = {sr['value']:.4g} (r = {sr['at_r']:.3g}, w = {sr['at_w']:.3g}), "
        f"sup|rho_w| = {sw['value']:.4g} (r = {sw['at_r']:.3g}, w = {sw['at_w']:.3g}) on the grid; "
        f"finite at r -> 0+"
    )
    return Check("bounded_gradient", "pass", text, ev)


def _float32(p: Penalty) -> Check:
    r, scale = _grid(p)
    r = r[(r > 0) & (r <= 20 * scale)].astype(np.float32)
    w = W_GRID.astype(np.float32)
    v32, v64 = _values(p, r, w, np.float32), _values(p, r, w, np.float64)
    ev: dict = {
        "decided": "numeric",
        "how": f"{r.size} r in (0, {float(r[-1]):.3g}] x {w.size} w, the same float32 inputs in both",
        "error": "|v32 - v64| / max(|v64|, 1e-3 max over r of |v64| at that w)",
    }
    worst = []
    for k, key in (("rho_r", "dZ"), ("rho_w", "dW")):
        a, b = v32[k], v64[k]
        tol = tolerance(np.float32, key)
        ok = np.isfinite(b)
        if a.dtype != np.float32:
            ev[f"{k} dtype"] = str(a.dtype)  # the formula promoted float32 (a float64 constant): said
        with np.errstate(all="ignore"):
            floor = 1e-3 * np.max(np.where(ok, np.abs(b), 0.0), axis=0, keepdims=True)
            den = np.maximum(np.abs(b), np.maximum(floor, np.finfo(np.float64).tiny))
            err = np.where(ok, np.abs(a.astype(np.float64) - b) / den, 0.0)
        err = np.where(ok & ~np.isfinite(a), np.inf, err)  # float32 overflow where float64 is finite
        e = float(np.max(err)) if err.size else 0.0
        ev[k] = {"max_error": e, "tolerance": tol}
        if e > tol:
            i, j = np.unravel_index(int(np.argmax(err)), err.shape)
            worst.append(f"{k} off by {e:.2g} > {tol:g} at r = {float(r[i]):.3g}, w = {float(w[j]):.3g}")
    text = f"float32 rho_r within {ev['rho_r']['max_error']:.2g}, rho_w within {ev['rho_w']['max_error']:.2g} of float64"
    if worst:
        return Check("float32", "fail", "; ".join(worst), ev)
    return Check("float32", "pass", text, ev)


def _smooth(p: Penalty) -> Check:
    ev = {"decided": "symbolic", "rho": str(p.expr)}
    if p.smooth:
        return Check("smooth", "pass", "rho is C2 in (r, w) away from r = 0 (no |.|, sign, step or pieces)", ev)
    return Check(
        "smooth",
        "warn",
        "rho has a kink (|.|, sign, step or pieces): its derivative jumps there (d|w|/dw = 0 at w = 0, "
        "as torch); a finite-difference or Taylor check may cross it",
        ev,
    )


def audit_penalty(p: Penalty, *, seed: int = 0, budget: float = 20.0) -> Audit:
    """Run the four checks of the module docstring on penalty `p` (its parameter values substituted).

    Args:
        p: the penalty (scale, reduce and layers play no part: they multiply or select edges).
        seed: recorded in the result (the scans draw nothing).
        budget: seconds of SymPy time for the exact limits (derive.step_limits.budget).

    Raises:
        SpecError: a budget <= 0.
    """
    if not budget > 0:
        raise SpecError(f"SymPy time budget {budget!r} must be positive", "pass budget in seconds > 0")
    t0 = time.perf_counter()
    with sympy_budget(budget):
        checks = [_gradient_at_coincidence(p), _bounded(p)]
    checks += [_float32(p), _smooth(p)]
    assert tuple(c.name for c in checks) == PENALTY_CHECKS
    return Audit(p.rho, dict(p.pairs), p.rho, checks, seed, time.perf_counter() - t0, kind="penalty")
