"""Checks of g's shape on [0, inf): real and finite, differentiable, bounded, decay, Lipschitz
gradient, sign. Each is decided from exact limits (SymPy) and a float64 scan (`numeric.scan`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from derivcheck.audit.facts import Facts
from derivcheck.audit.registry import Check, Context, check
from derive import audit_math as am
from derive.decide import finite, is_zero, to_float
from numeric import scan

__all__ = ["DEAD_WARN", "NEGLIGIBLE", "short"]

# Policy thresholds of the audit (verdict rules, not numerical tolerances; those are numeric.compare's).
DEAD_WARN = 0.05  # warn when more than 5% of edges of a typical layout get a negligible gradient
NEGLIGIBLE = 1e-6  # |g'(r)| <= 1e-6 sup |g'| counts as a negligible gradient


def short(v) -> str:
    """Short exact text of a SymPy value (or "undecided" for None)."""
    return "undecided" if v is None else str(v)


@check("real_finite")
def real_finite(ctx: Context) -> Check:
    """g is real and finite on [0, inf): SymPy's continuous_domain piece by piece, the exact g(0+), and
    a float64 scan (which also catches overflow of an exactly finite g). Fails on a singularity or a
    non-real stretch; warns on float64 overflow; a removable 0/0 at r = 0 is named as such."""
    f = ctx.facts
    gaps, why = am.continuity_gaps(f.g)
    vals = scan.evaluate(f.num["g"], f.grid)
    bad = ~np.isfinite(vals)
    scan_ev = {
        "points": int(f.grid.size),
        "not_finite": int(bad.sum()),
        "first_bad_r": float(f.grid[bad][0]) if bad.any() else None,
    }
    ev = {
        "decided": "symbolic+numeric" if why is None else "numeric",
        "how": "continuous_domain piece by piece, exact limits, float64 scan" if why is None else f"float64 scan ({why})",
        "g": str(f.g),
        "g(0+)": short(f.g0),
        "g(infinity)": short(f.ginf),
        "not_real_or_singular_on_[0,inf)": short(gaps) if why is None else why,
        "scan": scan_ev,
    }
    problems = []
    if gaps is not None and not am.is_empty(gaps):
        problems.append(f"not real and finite on {gaps}")
    if f.g0 is not None and not finite(f.g0):
        problems.append(f"g(0+) = {f.g0}")
    if bad.any() and (problems or why is not None or (bad & (f.grid == 0)).any()):
        problems.append(f"the float64 scan gives NaN/Inf at r = {scan_ev['first_bad_r']:.6g}")
    elif bad.any():  # exactly finite, but float64 overflows (e.g. exp(1000*r)): engines would get Inf weights
        return Check(
            "real_finite",
            "warn",
            f"g is real and finite on [0, inf) exactly, but float64 evaluation gives "
            f"Inf/NaN from r = {scan_ev['first_bad_r']:.6g} (overflow)",
            ev,
        )
    if problems:
        if am.is_origin(gaps) and f.g0 is not None and finite(f.g0) and not (bad & (f.grid > 0)).any():
            # a removable 0/0 at r = 0 only (sin(r)/r): every engine puts the limit g(0+) in for coincident
            # nodes (derive.primitives.kernels: the careful route takes limits), so it is not a failure
            return Check(
                "real_finite",
                "warn",
                f"the formula is 0/0 at r = 0 (removable: g(0+) = {f.g0}); the engines use that limit for "
                "coincident nodes; writing g defined at 0 avoids the special case",
                ev,
            )
        return Check("real_finite", "fail", "; ".join(problems), ev)
    return Check("real_finite", "pass", f"g is real and finite on [0, inf): g(0) = {f.g0}, g(inf) = {short(f.ginf)}", ev)


@check("differentiable")
def differentiable(ctx: Context) -> Check:
    """g is C2 on (0, inf): one-sided limits of g, g', g'', g''' at every piecewise boundary and
    singularity. Fails where g' jumps (the coordinate gradient jumps on a sphere); warns where only g''
    jumps (first order is fine, the Hessian is undefined there) or SymPy left a step undecided."""
    f = ctx.facts
    rows = {
        str(p): {"r": to_float(p), "C^k": order if order < 3 else ">=3", "one_sided_limits": lims}
        for p, (order, lims) in f.smooth.items()
    }
    ev = {
        "decided": "symbolic",
        "how": "one-sided limits of g, g', g'', g''' at every piecewise boundary and singularity on (0, inf)",
        "points": rows,
        "undecided": f.notes,
    }
    if not f.points:
        verdict = "warn" if f.notes else "pass"
        return Check(
            "differentiable",
            verdict,
            "no piecewise boundary or singularity on (0, inf): g is smooth there" + ("; some steps undecided" if f.notes else ""),
            ev,
        )
    orders = {p: o for p, (o, _) in f.smooth.items()}
    text = ", ".join(f"C{o if o < 3 else '3+'} at r = {p}" if o >= 0 else f"not continuous at r = {p}" for p, o in orders.items())
    low = min(orders.values())
    if low < 1:
        return Check("differentiable", "fail", f"g' does not exist at some r > 0 ({text}): the coordinate gradient jumps there", ev)
    if low < 2 or f.notes:
        return Check(
            "differentiable",
            "warn",
            f"g is C1 but g'' jumps ({text}): first order is fine, the Hessian is undefined on those spheres",
            ev,
        )
    return Check("differentiable", "pass", f"g is C2 on (0, inf) ({text})", ev)


def sups(f: Facts) -> tuple[scan.Sup, scan.Sup]:
    """(sup |g|, sup |g'|) on [0, inf), from the grid and the exact limits at 0+, infinity and breakpoints."""
    sg = scan.sup_abs(f.num["g"], f.grid, am.point_limits(f.g, f.points, f.g0, f.ginf))
    sdg = scan.sup_abs(f.num["dg"], f.grid, am.point_limits(f.dg, f.points, f.dg0, f.dginf))
    return sg, sdg


@check("bounded")
def bounded(ctx: Context) -> Check:
    """sup |g| and sup |g'| are finite: weights and coordinate gradients cannot blow up."""
    sg, sdg = sups(ctx.facts)
    ev = {
        "decided": "symbolic+numeric",
        "how": "exact limits at 0+, infinity and breakpoints; max on a grid",
        "sup|g|": sg.as_dict(),
        "sup|g'|": sdg.as_dict(),
    }
    text = f"sup|g| = {sg.value:.6g} (at r = {sg.at:.4g}), sup|g'| = {sdg.value:.6g} (at r = {sdg.at:.4g})"
    if not (np.isfinite(sg.value) and np.isfinite(sdg.value)):
        return Check("bounded", "fail", text + ": weights or coordinate gradients can blow up", ev)
    return Check("bounded", "pass", text, ev)


@check("decay")
def decay(ctx: Context) -> Check:
    """g and g' settle at infinity (g' -> 0), and few edges of a typical layout are dead (|g'| negligible
    for more than DEAD_WARN of them warns: those node pairs get no gradient)."""
    f = ctx.facts
    _, sdg = sups(f)
    ev: dict[str, Any] = {
        "decided": "symbolic+numeric",
        "how": "exact limits at infinity; sampled layouts",
        "g(infinity)": short(f.ginf),
        "g'(infinity)": short(f.dginf),
    }
    text = f"g -> {short(f.ginf)}, g' -> {short(f.dginf)} as r -> inf"
    worst_dead = 0.0
    if np.isfinite(sdg.value):
        dead = scan.dead_fraction(f.num["dg"], ctx.rng, rel=NEGLIGIBLE, sup_dg=sdg.value)
        worst_dead = max(v["negligible"] for v in dead.values())
        ev.update(
            {
                "layout": "both endpoints uniform in [-1.5, 1.5]^D, D = 1, 2, 3 (numeric.strategies.params_for)",
                "negligible means": f"|g'(r)| <= {NEGLIGIBLE:g} sup|g'|",
                "fractions": dead,
            }
        )
        text += f"; {100 * worst_dead:.1f}% of edges of a typical layout get a zero or negligible gradient"
    else:
        ev["fractions"] = "not defined: sup|g'| is infinite"
    if f.dginf is None or not is_zero(f.dginf) or not finite(f.ginf):
        return Check("decay", "warn", text + " (g or g' does not settle at infinity)", ev)
    if worst_dead > DEAD_WARN:
        return Check("decay", "warn", text + f" (dead zone: more than {100 * DEAD_WARN:g}%)", ev)
    return Check("decay", "pass", text, ev)


@check("lipschitz")
def lipschitz(ctx: Context) -> Check:
    """The coordinate gradient is Lipschitz: Hess w = g'' u u^T + phi (I - u u^T) has eigenvalues g'' and
    phi, so L = max(sup |g''|, sup |phi|) must be finite (and a step eta <= 1/L is safe per edge)."""
    f = ctx.facts
    s2 = scan.sup_abs(f.num["d2g"], f.grid, am.point_limits(f.d2g, f.points, f.d2g0))
    sphi = scan.sup_abs(f.num["phi"], f.grid, am.point_limits(f.phi, f.points, f.phi0))
    ev: dict[str, Any] = {
        "decided": "symbolic+numeric",
        "how": "exact limits at 0+, infinity and breakpoints; max on a grid",
        "sup|g''| (a.e.)": s2.as_dict(),
        "sup|phi|": sphi.as_dict(),
        "why": "Hess w = g'' u u^T + phi (I - u u^T): its eigenvalues are g'' and phi",
    }
    if not f.c1_everywhere():
        ev["jump"] = "g' jumps at some r > 0 (see differentiable)"
        return Check("lipschitz", "fail", "g' jumps, so the gradient is not Lipschitz (no safe step size)", ev)
    L = max(s2.value, sphi.value)
    ev["L"] = L
    if not np.isfinite(L):
        how = s2.how if not np.isfinite(s2.value) else sphi.how
        return Check("lipschitz", "fail", f"max(sup|g''|, sup|phi|) is infinite ({how}): no global step size is safe", ev)
    ev["safe_step"] = 1 / L if L > 0 else float("inf")
    return Check(
        "lipschitz",
        "pass",
        f"L = max(sup|g''|, sup|phi|) = {L:.6g}; per edge and unit |dL/dW| a gradient "
        f"step eta <= 1/L = {1 / L if L else float('inf'):.4g} decreases w's linear model error",
        ev,
    )


@check("sign_range")
def sign_range(ctx: Context) -> Check:
    """The range of g on [0, inf): a g that takes negative values makes negative weights (warn)."""
    f = ctx.facts
    lo, hi = scan.value_range(f.num["g"], f.grid, to_float(f.g0), to_float(f.ginf))
    ev = {
        "decided": "symbolic+numeric",
        "how": "exact limits at 0+ and infinity; min/max on a grid",
        "inf g": lo,
        "sup g": hi,
    }
    if lo < 0:
        return Check("sign_range", "warn", f"g takes values in [{lo:.6g}, {hi:.6g}]: it can make negative weights", ev)
    return Check("sign_range", "pass", f"g takes values in [{lo:.6g}, {hi:.6g}]: weights are never negative", ev)
