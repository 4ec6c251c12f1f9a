"""`derivcheck audit-kernel EXPR`: is a kernel g(r) safe to train node coordinates with?

Composes the exact facts of `derive.audit_math` and the engines of `numeric` into eleven checks,
each with a verdict (pass / warn / fail), a one-line detail, and evidence that says whether it was
decided symbolically or numerically. Output: a rich table, ``--json`` (schema of issue 5), and
``--report OUTDIR`` (LaTeX with plots of g, g', phi and the float32 error against separation).

Exit codes: 0 no check fails (warnings allowed; ``--strict`` makes a warning fail), 1 a check fails,
2 bad input (a `derive.SpecError`, printed on one line by the CLI).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from types import ModuleType
from typing import Any

import numpy as np
import sympy as sp

from derive import KERNELS, Net, Params, SpecError, kernel
from derive import audit_math as am
from derive.primitives import Kernel

from .provenance import atomic_write_json, provenance

__all__ = [
    "Check",
    "Audit",
    "CHECKS",
    "SEPARATIONS",
    "audit",
    "to_json",
    "print_table",
    "write_report",
    "add_arguments",
    "run",
    "parse_params",
]

CHECKS = (
    "real_finite",
    "differentiable",
    "gradient_at_coincidence",
    "hessian_at_coincidence",
    "phi",
    "bounded",
    "decay",
    "lipschitz",
    "sign_range",
    "float32",
    "engines_agree",
)
SEPARATIONS = (1e-3, 1e-4, 1e-5, 1e-6, 1e-7)
# Policy thresholds of the audit (verdict rules, not numerical tolerances; those are numeric.compare's).
DEAD_WARN = 0.05  # warn when more than 5% of edges of a typical layout get a negligible gradient
NEGLIGIBLE = 1e-6  # |g'(r)| <= 1e-6 sup |g'| counts as a negligible gradient
PHI_NEAR0 = 1e-6  # relative distance of the compiled phi(1e-8) from phi(0)
VERDICTS = ("pass", "warn", "fail")


@dataclass
class Check:
    """One audit check. `evidence["decided"]` says "symbolic", "numeric" or "symbolic+numeric"."""

    name: str
    verdict: str
    detail: str
    evidence: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "verdict": self.verdict,
            "detail": self.detail,
            "evidence": _jsonable(self.evidence),
        }


@dataclass
class Audit:
    """The result of auditing one kernel; `data` keeps arrays for the report's plots."""

    kernel: str
    params: dict[str, float]
    formula: str
    checks: list[Check]
    seed: int
    seconds: float = 0.0
    data: dict = field(default_factory=dict, repr=False)

    @property
    def verdict(self) -> str:
        return worst(c.verdict for c in self.checks)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)


def worst(verdicts) -> str:
    return max(verdicts, key=VERDICTS.index, default="pass")


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (bool, str)) or obj is None:
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if np.isfinite(v) else ("inf" if v > 0 else "-inf" if v < 0 else "nan")
    return str(obj)


def _s(v) -> str:
    """Short exact text of a SymPy value (or the reason it is undecided)."""
    return "undecided" if v is None else str(v)


# -- symbolic checks ---------------------------------------------------------------------------------
class _Facts:
    """Lazily computed exact facts shared by several checks (each SymPy step time-limited)."""

    def __init__(self, k: Kernel):
        self.k = k
        self.g = k.bound
        self.dg = am.derivative(k, 1)
        self.d2g = am.derivative(k, 2)
        self.points, self.notes = am.breakpoints(k)
        self.grid = am.grid(k, self.points)
        self.dg0, self.dg0_why = am.attempt(lambda: k.dg0)
        self.d2g0, self.d2g0_why = am.attempt(lambda: k.d2g0)
        self.phi, self.phi_why = am.attempt(lambda: k.phi)
        if self.phi is None:
            self.phi = self.dg / am.R
        self.phi0, self.phi0_why = am.attempt(lambda: k.phi0)
        self.g0, _ = am.attempt(am.side_limit, self.g, sp.S.Zero, "+")
        self.ginf, _ = am.attempt(am.limit_inf, self.g)
        self.dginf, _ = am.attempt(am.limit_inf, self.dg)
        self.smooth = {p: am.smoothness(k, p) for p in self.points}

    def c1_everywhere(self) -> bool:
        return all(order >= 1 for order, _ in self.smooth.values())


def check_real_finite(f: _Facts) -> Check:
    gaps, why = am.continuity_gaps(f.g)
    vals = am.evaluate(f.g, f.grid)
    bad = ~np.isfinite(vals)
    scan = {
        "points": int(f.grid.size),
        "not_finite": int(bad.sum()),
        "first_bad_r": float(f.grid[bad][0]) if bad.any() else None,
    }
    ev = {
        "decided": "symbolic+numeric" if why is None else "numeric",
        "how": "continuous_domain piece by piece, exact limits, float64 scan"
        if why is None
        else f"float64 scan ({why})",
        "g": str(f.g),
        "g(0+)": _s(f.g0),
        "g(infinity)": _s(f.ginf),
        "not_real_or_singular_on_[0,inf)": _s(gaps) if why is None else why,
        "scan": scan,
    }
    problems = []
    if gaps not in (None, sp.S.EmptySet):
        problems.append(f"not real and finite on {gaps}")
    if f.g0 is not None and not am.finite(f.g0):
        problems.append(f"g(0+) = {f.g0}")
    if bad.any() and (problems or why is not None or (bad & (f.grid == 0)).any()):
        problems.append(f"the float64 scan gives NaN/Inf at r = {scan['first_bad_r']:.6g}")
    elif bad.any():  # exactly finite, but float64 overflows (e.g. exp(1000*r)): engines would get Inf weights
        return Check(
            "real_finite",
            "warn",
            f"g is real and finite on [0, inf) exactly, but float64 evaluation gives "
            f"Inf/NaN from r = {scan['first_bad_r']:.6g} (overflow)",
            ev,
        )
    if problems:
        removable = gaps == sp.FiniteSet(0) and am.finite(f.g0)
        hint = (
            (
                f" (removable: g(0+) = {f.g0}, but the formula is 0/0 at r = 0, so engines get NaN weights "
                f"for "
                "coincident nodes; rewrite g so it is defined at 0)"
            )
            if removable
            else ""
        )
        return Check("real_finite", "fail", "; ".join(problems) + hint, ev)
    return Check(
        "real_finite", "pass", f"g is real and finite on [0, inf): g(0) = {f.g0}, g(inf) = {_s(f.ginf)}", ev
    )


def check_differentiable(f: _Facts) -> Check:
    rows = {
        str(p): {"r": am.to_float(p), "C^k": order if order < 3 else ">=3", "one_sided_limits": lims}
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
            "no piecewise boundary or singularity on (0, inf): g is smooth there"
            + ("; some steps undecided" if f.notes else ""),
            ev,
        )
    orders = {p: o for p, (o, _) in f.smooth.items()}
    text = ", ".join(
        f"C{o if o < 3 else '3+'} at r = {p}" if o >= 0 else f"not continuous at r = {p}"
        for p, o in orders.items()
    )
    low = min(orders.values())
    if low < 1:
        return Check(
            "differentiable",
            "fail",
            f"g' does not exist at some r > 0 ({text}): the coordinate gradient jumps there",
            ev,
        )
    if low < 2 or f.notes:
        return Check(
            "differentiable",
            "warn",
            f"g is C1 but g'' jumps ({text}): first order is fine, the Hessian is undefined on those spheres",
            ev,
        )
    return Check("differentiable", "pass", f"g is C2 on (0, inf) ({text})", ev)


def check_gradient_at_coincidence(f: _Facts) -> Check:
    dg0 = f.dg0
    ev = {"decided": "symbolic", "g'(0+)": _s(dg0) if f.dg0_why is None else f.dg0_why}
    if dg0 is not None and am.finite(dg0) and am.is_zero(dg0):
        return Check(
            "gradient_at_coincidence",
            "pass",
            "g'(0) = 0: the coordinate gradient g'(r) u -> 0 from every "
            "direction u, so it is continuous where two nodes meet",
            ev,
        )
    if dg0 is None:
        return Check("gradient_at_coincidence", "fail", f"g'(0+) undecided ({f.dg0_why})", ev)
    ev["limit along +e1"] = f"[{dg0}, 0, ...]"
    ev["limit along -e1"] = f"[{-dg0}, 0, ...]"
    return Check(
        "gradient_at_coincidence",
        "fail",
        f"g'(0+) = {dg0} != 0: grad_z w = g'(r) u tends to {dg0}*u, a "
        "different limit for each approach direction u (no gradient where nodes meet)",
        ev,
    )


def check_hessian_at_coincidence(f: _Facts) -> Check:
    d3g0, why3 = am.attempt(am.side_limit, am.derivative(f.k, 3), sp.S.Zero, "+")
    ev = {
        "decided": "symbolic",
        "g'(0+)": _s(f.dg0),
        "g''(0+)": _s(f.d2g0),
        "phi(0+)": _s(f.phi0),
        "g'''(0+)": _s(d3g0) if why3 is None else why3,
    }
    third = (
        "g'''(0) = 0 (w is C3 at coincidence)"
        if d3g0 is not None and am.is_zero(d3g0)
        else f"g'''(0+) = {_s(d3g0)} != 0 (the Hessian is continuous but not differentiable there)"
    )
    if not (f.dg0 is not None and am.finite(f.dg0) and am.is_zero(f.dg0)):
        return Check(
            "hessian_at_coincidence",
            "fail",
            f"g'(0+) = {_s(f.dg0)} != 0: not even the gradient exists at coincidence",
            ev,
        )
    if not am.finite(f.d2g0) or not am.finite(f.phi0) or not am.is_zero(sp.simplify(f.phi0 - f.d2g0)):
        return Check(
            "hessian_at_coincidence",
            "fail",
            f"g''(0+) = {_s(f.d2g0)}, phi(0+) = {_s(f.phi0)}: the Hessian "
            "eigenvalues g'' (radial) and phi (tangential) have different or infinite limits",
            ev,
        )
    return Check(
        "hessian_at_coincidence",
        "pass",
        f"g'(0) = 0 and g is C2 at 0: Hess w -> g''(0) I = {f.d2g0}*I; {third}",
        ev,
    )


def check_phi(f: _Facts) -> Check:
    ev: dict[str, Any] = {
        "decided": "symbolic+numeric",
        "how": "closed form and limit (SymPy); compiled phi near 0 (float64)",
        "phi(r)": str(f.phi),
        "phi(0)": _s(f.phi0) if f.phi0_why is None else f.phi0_why,
    }
    if f.phi0 is None or not am.finite(f.phi0):
        return Check(
            "phi",
            "warn",
            f"phi(r) = {f.phi}; phi(0+) = {_s(f.phi0)}: engines refuse coincident nodes "
            "(SpecError) instead of returning NaN",
            ev,
        )
    near = np.array([1e-4, 1e-6, 1e-8])
    vals = am.evaluate(f.phi, near)
    p0 = am.to_float(f.phi0)
    rel = np.abs(vals - p0) / max(abs(p0), np.finfo(float).tiny)
    ev["compiled phi(r) near 0"] = {f"{r:g}": float(v) for r, v in zip(near, vals, strict=True)}
    ev["relative distance at 1e-8"] = float(rel[-1])
    if not np.isfinite(rel[-1]) or rel[-1] > PHI_NEAR0:
        return Check(
            "phi",
            "warn",
            f"phi(0) = {f.phi0}, but the compiled phi(1e-8) = {vals[-1]:.6g} is "
            f"{rel[-1]:.2g} away (cancellation near coincidence)",
            ev,
        )
    return Check(
        "phi", "pass", f"phi(r) = {f.phi}, phi(0) = {f.phi0} (= g''(0), the value engines use at r = 0)", ev
    )


def _sups(f: _Facts):
    sg = am.sup_abs(f.g, f.grid, am.point_limits(f.g, f.points, f.g0, f.ginf))
    sdg = am.sup_abs(f.dg, f.grid, am.point_limits(f.dg, f.points, f.dg0, f.dginf))
    return sg, sdg


def check_bounded(f: _Facts) -> Check:
    sg, sdg = _sups(f)
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


def check_decay(f: _Facts, rng: np.random.Generator) -> Check:
    _, sdg = _sups(f)
    ev: dict[str, Any] = {
        "decided": "symbolic+numeric",
        "how": "exact limits at infinity; sampled layouts",
        "g(infinity)": _s(f.ginf),
        "g'(infinity)": _s(f.dginf),
    }
    text = f"g -> {_s(f.ginf)}, g' -> {_s(f.dginf)} as r -> inf"
    worst_dead = 0.0
    if np.isfinite(sdg.value):
        dead = am.dead_fraction(f.k, rng, rel=NEGLIGIBLE, sup_dg=sdg.value)
        worst_dead = max(v["negligible"] for v in dead.values())
        ev.update(
            {
                "layout": "both endpoints uniform in [-1.5, 1.5]^D, D = 1, 2, 3 "
                "(numeric.strategies.params_for)",
                "negligible means": f"|g'(r)| <= {NEGLIGIBLE:g} sup|g'|",
                "fractions": dead,
            }
        )
        text += f"; {100 * worst_dead:.1f}% of edges of a typical layout get a zero or negligible gradient"
    else:
        ev["fractions"] = "not defined: sup|g'| is infinite"
    if f.dginf is None or not am.is_zero(f.dginf) or not am.finite(f.ginf):
        return Check("decay", "warn", text + " (g or g' does not settle at infinity)", ev)
    if worst_dead > DEAD_WARN:
        return Check("decay", "warn", text + f" (dead zone: more than {100 * DEAD_WARN:g}%)", ev)
    return Check("decay", "pass", text, ev)


def check_lipschitz(f: _Facts) -> Check:
    s2 = am.sup_abs(f.d2g, f.grid, am.point_limits(f.d2g, f.points, f.d2g0))
    sphi = am.sup_abs(f.phi, f.grid, am.point_limits(f.phi, f.points, f.phi0))
    ev: dict[str, Any] = {
        "decided": "symbolic+numeric",
        "how": "exact limits at 0+, infinity and breakpoints; max on a grid",
        "sup|g''| (a.e.)": s2.as_dict(),
        "sup|phi|": sphi.as_dict(),
        "why": "Hess w = g'' u u^T + phi (I - u u^T): its eigenvalues are g'' and phi",
    }
    if not f.c1_everywhere():
        ev["jump"] = "g' jumps at some r > 0 (see differentiable)"
        return Check(
            "lipschitz", "fail", "g' jumps, so the gradient is not Lipschitz (no safe step size)", ev
        )
    L = max(s2.value, sphi.value)
    ev["L"] = L
    if not np.isfinite(L):
        how = s2.how if not np.isfinite(s2.value) else sphi.how
        return Check(
            "lipschitz",
            "fail",
            f"max(sup|g''|, sup|phi|) is infinite ({how}): no global step size is safe",
            ev,
        )
    ev["safe_step"] = 1 / L if L > 0 else float("inf")
    return Check(
        "lipschitz",
        "pass",
        f"L = max(sup|g''|, sup|phi|) = {L:.6g}; per edge and unit |dL/dW| a gradient "
        f"step eta <= 1/L = {1 / L if L else float('inf'):.4g} decreases w's linear model error",
        ev,
    )


def check_sign_range(f: _Facts) -> Check:
    lo, hi = am.value_range(f.g, f.grid, f.g0, f.ginf)
    ev = {
        "decided": "symbolic+numeric",
        "how": "exact limits at 0+ and infinity; min/max on a grid",
        "inf g": lo,
        "sup g": hi,
    }
    if lo < 0:
        return Check(
            "sign_range", "warn", f"g takes values in [{lo:.6g}, {hi:.6g}]: it can make negative weights", ev
        )
    return Check(
        "sign_range", "pass", f"g takes values in [{lo:.6g}, {hi:.6g}]: weights are never negative", ev
    )


# -- numeric checks ----------------------------------------------------------------------------------
def _net(k: Kernel, widths=(3, 4, 2), dim: int = 3, **kw) -> Net:
    return Net(widths, dim=dim, kernel=k.name, kernel_params=dict(k.params), **kw)


def float32_errors(k: Kernel, seed: int, trials: int = 4) -> dict:
    """max over `trials` random nets of rel_error(dZ float32, dZ float64) for each separation of one
    node pair (layer 2 node 0 and layer 1 node 0); both engines see the same float32 coordinates."""
    from numeric import manual
    from numeric.compare import rel_error

    rng = np.random.default_rng(seed)
    net = _net(k)
    out: dict = {}
    for sep in (None, *SEPARATIONS):
        errs, notes = [], []
        for _ in range(trials):
            Z = [rng.uniform(-1.5, 1.5, (n, net.dim)) for n in net.widths]
            if sep is not None:
                u = rng.normal(size=net.dim)
                Z[1][0] = Z[0][0] + sep * u / np.linalg.norm(u)
            X, Y = rng.normal(size=(4, net.widths[0])), rng.normal(size=(4, net.widths[-1]))
            Z32 = [z.astype(np.float32) for z in Z]
            P = Params(Z=[z.astype(np.float64) for z in Z32])
            try:
                g64 = manual.gradients(net, P, X.astype(np.float32), Y.astype(np.float32), dtype=np.float64)
                g32 = manual.gradients(net, P, X.astype(np.float32), Y.astype(np.float32), dtype=np.float32)
                errs.append(rel_error(g32.dZ, g64.dZ))
            except SpecError as exc:
                errs.append(float("inf"))
                notes.append(str(exc).split(";")[0])
        out["none" if sep is None else f"{sep:g}"] = {
            "separation": sep,
            "max_rel_error": float(max(errs)),
            "refused": notes[:1],
        }
    return out


def check_float32(k: Kernel, seed: int) -> tuple[Check, dict]:
    from numeric.compare import tolerance

    tol = tolerance(np.float32, "dZ")
    errs = float32_errors(k, seed)
    broken = [v["separation"] for v in errs.values() if v["max_rel_error"] > tol]
    ev = {
        "decided": "numeric",
        "seed": seed,
        "tolerance (numeric.compare, float32 dZ)": tol,
        "net": "Net((3, 4, 2), D=3, tanh, mse), 4 random nets per separation, "
        "coordinates uniform in [-1.5, 1.5]",
        "errors": errs,
    }
    table = ", ".join(f"{key}: {v['max_rel_error']:.2g}" for key, v in errs.items())
    if None in broken:
        return Check(
            "float32",
            "fail",
            f"float32 dZ misses float64 by more than {tol:g} even for separated nodes ({table})",
            ev,
        ), errs
    if broken:
        ev["breaks_down_at"] = max(broken)
        return Check(
            "float32",
            "warn",
            f"float32 breaks down at separation {max(broken):g} and below "
            f"(rel. error of dZ by separation: {table})",
            ev,
        ), errs
    return Check(
        "float32", "pass", f"float32 dZ within {tol:g} of float64 down to separation 1e-7 ({table})", ev
    ), errs


def _outcome(fn: Callable, *args, **kw):
    try:
        return fn(*args, **kw), None
    except SpecError as exc:
        return None, str(exc).split(";")[0]


def _case_strategy(k: Kernel, fixed: bool):
    from hypothesis import strategies as st

    from numeric import strategies as nst

    phi0_finite = am.finite(am.attempt(lambda: k.phi0)[0])
    kinds = ["plain", "near"] + (["coincident"] if phi0_finite else [])

    @st.composite
    def case(draw):
        if fixed:  # one shape, so the exact program is compiled once
            net = _net(k, (2, 3, 1), 2)
            X, Y = draw(nst.data_for(net, batch=2))
        else:
            L = draw(st.integers(2, 3))
            net = _net(
                k,
                tuple(draw(st.integers(1, 3)) for _ in range(L)),
                draw(st.integers(1, 3)),
                hidden=draw(st.sampled_from(("tanh", "sigmoid", "softplus"))),
                loss=draw(st.sampled_from(("mse", "sse_half"))),
            )
            X, Y = draw(nst.data_for(net))
        params = draw(nst.params_for(net))
        kind = draw(st.sampled_from(kinds))
        if kind != "plain":
            i, j = draw(st.integers(0, net.widths[1] - 1)), draw(st.integers(0, net.widths[0] - 1))
            sep = 0.0 if kind == "coincident" else 10.0 ** -draw(st.integers(3, 7))
            params.Z[1][i] = params.Z[0][j] + sep * np.eye(net.dim)[0]
        return kind, net, params, X, Y

    return case()


def _disagreement(ref, other, ref_name: str, name: str) -> tuple[float, str]:
    """Largest tolerance-relative error of `other` against `ref` over loss, dW, dZ, dX: (ratio, text)."""
    from numeric.compare import check_close, quantities

    worst_ratio, text = 0.0, ""
    (a, why_a), (b, why_b) = ref, other
    if (a is None) != (b is None):
        return float("inf"), f"{ref_name}: {why_a or 'computed'}; {name}: {why_b or 'computed'}"
    if a is None:
        return 0.0, "both refused"
    qa, qb = quantities(a), quantities(b)
    for q in qa:
        if q in qb and q != "db":
            fnd = check_close(q, name, qb[q], qa[q])
            ratio = fnd.rel / fnd.tol
            if ratio >= worst_ratio:
                worst_ratio, text = ratio, f"{fnd.quantity}{fnd.where}: rel {fnd.rel:.3g} (tol {fnd.tol:g})"
    return worst_ratio, text


def engines_agreement(k: Kernel, seed: int, examples: int = 25, exact_examples: int = 4) -> dict:
    """Hypothesis-drawn nets with this kernel (plain, nearly coincident and, when phi(0) is finite,
    coincident node pairs): manual vs torch on varied nets, and both against the 50-digit symbolic
    ground truth (derive.symbolic) on one fixed shape; second order where the HVP engines exist."""
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample

    from numeric import autograd, manual

    symbolic: ModuleType | None
    try:
        from derive import symbolic
    except ImportError:
        symbolic = None
    result = {
        "examples": examples,
        "seed": seed,
        "max_error_over_tol": 0.0,
        "worst": "",
        "counterexample": None,
        "symbolic": "not available (derive.symbolic missing)" if symbolic is None else "used",
        "second_order": "not available",
    }
    record: dict[str, Any] = {"max": 0.0, "worst": ""}

    def compare(case, pairs) -> bool:
        kind, net, params, X, Y = case
        outs = {name: _outcome(fn, net, params, X, Y) for name, fn in pairs}
        names = list(outs)
        bad = False
        for other in names[1:]:
            ratio, text = _disagreement(outs[names[0]], outs[other], names[0], other)
            if ratio > record["max"] or not record["worst"]:
                record["max"], record["worst"] = (
                    max(ratio, record["max"]),
                    f"{other} vs {names[0]} ({kind}): {text}",
                )
            bad |= ratio > 1
        return bad

    cfg: dict[str, Any] = dict(
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate, Phase.shrink],
    )
    runs = [(False, examples, [("torch", autograd.gradients), ("manual", manual.gradients)])]
    if symbolic is not None:
        runs.append(
            (
                True,
                exact_examples,
                [
                    ("symbolic", symbolic.gradients),
                    ("manual", manual.gradients),
                    ("torch", autograd.gradients),
                ],
            )
        )
    for fixed, n, pairs in runs:
        try:
            found = find(
                _case_strategy(k, fixed),
                lambda c: compare(c, pairs),  # called within this iteration (no late binding)
                settings=settings(max_examples=n, **cfg),
                random=Random(seed),
            )
        except NoSuchExample:
            continue
        kind, net, params, X, Y = found
        result["counterexample"] = {
            "kind": kind,
            "net": net.describe(),
            "Z": [z.tolist() for z in params.Z],
            "X": X.tolist(),
            "Y": Y.tolist(),
        }
        compare(found, pairs)  # the shrunk case's own error is the evidence
    result["max_error_over_tol"], result["worst"] = record["max"], record["worst"]
    result["second_order"] = _second_order(k, seed, symbolic)
    return result


def _second_order(k: Kernel, seed: int, symbolic) -> dict | str:
    from numeric import autograd, manual
    from numeric.compare import check_close

    # Any: looked up by name; the `missing` check below returns before a None is called
    engines: list[tuple[str, Any]] = [(n, getattr(m, "hvp", None)) for n, m in (("manual", manual), ("torch", autograd))]
    missing = [n for n, fn in engines if fn is None]
    if missing:
        return f"not available (numeric.{'/'.join(missing)}.hvp missing)"
    rng = np.random.default_rng(seed)
    net = _net(k, (2, 3, 1), 2)
    # Keep every edge inside the kernel's scale (a compact support would otherwise make H v = 0 = H v).
    spread = 0.3 * min([1.5] + [am.to_float(p) for p in am.breakpoints(k, orders=(0,))[0]])
    errors: dict[str, float] = {}
    found = []
    ref_name = "symbolic" if symbolic is not None and hasattr(symbolic, "hvp") else "torch"
    size = 0.0
    phi0, d2g0 = am.attempt(lambda: k.phi0)[0], am.attempt(lambda: k.d2g0)[0]
    hess_at_0 = am.finite(phi0) and am.finite(d2g0) and am.is_zero(sp.simplify(phi0 - d2g0))
    kinds = ("plain", "plain", "coincident" if hess_at_0 else "plain")
    for kind in kinds:
        Z = [rng.uniform(-spread, spread, (n, net.dim)) for n in net.widths]
        if kind == "coincident":  # the Hessian exists there (limit g''(0) I): the engines must agree on it
            Z[1][0] = Z[0][0]
        X, Y = rng.normal(size=(2, 2)), rng.normal(size=(2, 1))
        V = [rng.normal(size=z.shape) for z in Z]
        P = Params(Z=Z)
        try:
            outs = {n: fn(net, P, X, Y, V) for n, fn in engines}
            ref = symbolic.hvp(net, P, X, Y, V) if ref_name == "symbolic" else outs.pop("torch")
        except (TypeError, AttributeError) as exc:
            return f"not available (hvp signature: {exc})"
        except SpecError as exc:
            return f"refused: {str(exc).split(';')[0]}"
        size = max(size, max(float(np.abs(v).max()) for v in ref))
        for n, v in outs.items():
            fnd = check_close("hvp", n, v, ref)
            found.append(fnd)
            errors[n] = max(errors.get(n, 0.0), fnd.rel)
    return {
        "reference": ref_name,
        "cases": list(kinds),
        "errors": errors,
        "max|Hv|": size,
        "tolerance": found[0].tol,
        "ok": all(f.ok for f in found) and size > 0,
    }


def check_engines_agree(k: Kernel, seed: int, examples: int) -> Check:
    res = engines_agreement(k, seed, examples)
    ev = {"decided": "numeric", "how": "hypothesis-drawn nets, shrunk on disagreement", **res}
    so = res["second_order"]
    so_text = "second order: " + (
        so if isinstance(so, str) else f"max rel error {max(so['errors'].values()):.2g} vs {so['reference']}"
    )
    if res["counterexample"] is not None or (isinstance(so, dict) and not so["ok"]):
        return Check(
            "engines_agree",
            "fail",
            f"engines disagree: {res['worst']} (shrunk counterexample in the evidence); {so_text}",
            ev,
        )
    ref = "the 50-digit symbolic ground truth and each other" if res["symbolic"] == "used" else "each other"
    return Check(
        "engines_agree",
        "pass",
        f"manual and torch agree with {ref} on {examples} drawn nets; largest "
        f"error {res['max_error_over_tol']:.2g} x tolerance ({res['worst']}); {so_text}",
        ev,
    )


# -- composition -------------------------------------------------------------------------------------
def parse_params(items) -> dict[str, float]:
    """["s=0.5", ...] -> {"s": 0.5}; a malformed item is a SpecError."""
    out: dict[str, float] = {}
    for item in items or ():
        name, eq, value = str(item).partition("=")
        name = name.strip()
        if not eq or not name.isidentifier() or "_" in name:
            raise SpecError(f"bad --param {item!r}", "write --param NAME=VALUE, e.g. --param s=0.5")
        try:
            out[name] = float(value)
        except ValueError:
            raise SpecError(
                f"--param {name} has value {value.strip()!r}, not a number", "write e.g. --param s=0.5"
            ) from None
    return out


def audit(
    spec: str,
    params: dict[str, float] | None = None,
    *,
    seed: int = 0,
    examples: int = 25,
    engines: bool = True,
    budget: float = 20.0,
) -> Audit:
    """Audit kernel `spec` (a library name or a formula in r) with parameter values `params`.

    Args:
        spec: e.g. "gaussian" or "exp(-r**2/s**2)".
        params: {name: value}; library defaults fill the rest.
        seed: seed of every random draw (float32 nets, hypothesis, dead-zone layout).
        examples: hypothesis examples for engines_agree.
        engines: run the numeric checks float32 and engines_agree (False: exact checks only).
        budget: seconds of SymPy time shared by the exact checks (steps beyond it are reported as
            undecided and the numeric evidence decides).

    Raises:
        SpecError: unknown kernel, disallowed syntax, missing or bad parameter values.
    """
    t0 = time.perf_counter()
    k = kernel(spec, tuple(sorted((params or {}).items())))
    rng = np.random.default_rng(seed)
    with am.budget(budget):
        f = _Facts(k)
        checks = [
            check_real_finite(f),
            check_differentiable(f),
            check_gradient_at_coincidence(f),
            check_hessian_at_coincidence(f),
            check_phi(f),
            check_bounded(f),
            check_decay(f, rng),
            check_lipschitz(f),
            check_sign_range(f),
        ]
    data: dict[str, Any] = {"facts": f}
    if engines:
        real = checks[0].verdict != "fail"
        if real:
            c32, errs = check_float32(k, seed)
            data["float32"] = errs
            checks += [c32, check_engines_agree(k, seed, examples)]
        else:
            why = "skipped: g is not real and finite on [0, inf) (see real_finite)"
            checks += [
                Check("float32", "fail", why, {"decided": "not run"}),
                Check("engines_agree", "fail", why, {"decided": "not run"}),
            ]
    formula = KERNELS[spec][0] if spec in KERNELS else spec
    return Audit(spec, dict(k.params), formula, checks, seed, time.perf_counter() - t0, data)


def to_json(a: Audit) -> dict:
    """The issue's schema: {"kernel", "params", "verdict",
    "checks": [{"name", "verdict", "detail", "evidence"}]}."""
    return {
        "kernel": a.kernel,
        "params": dict(a.params),
        "verdict": a.verdict,
        "checks": [c.as_dict() for c in a.checks],
    }


def print_table(a: Audit, file=None) -> None:
    from rich.console import Console
    from rich.table import Table

    colour = {"pass": "green", "warn": "yellow", "fail": "bold red"}
    ps = ", ".join(f"{k}={v:g}" for k, v in a.params.items())
    table = Table(
        title=f"kernel {a.kernel}: g(r) = {a.formula}" + (f"  [{ps}]" if ps else ""), show_lines=False
    )
    table.add_column("check")
    table.add_column("verdict")
    table.add_column("decided")
    table.add_column("detail", overflow="fold")
    for c in a.checks:
        table.add_row(
            c.name, f"[{colour[c.verdict]}]{c.verdict}[/]", str(c.evidence.get("decided", "")), c.detail
        )
    console = Console(file=file or sys.stdout, width=160)
    console.print(table)
    console.print(f"overall: [{colour[a.verdict]}]{a.verdict}[/] (seed {a.seed}, {a.seconds:.1f} s)")


def _plots(a: Audit, out_dir: Path) -> tuple[Path, Path | None]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f: _Facts = a.data["facts"]
    top = max([3.0] + [3 * abs(v) for _, v in a.params.items()] + [1.5 * am.to_float(p) for p in f.points])
    r = np.linspace(0, top, 1201)[1:]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for ax, expr, label in zip(axes, (f.g, f.dg, f.phi), ("g(r)", "g'(r)", "phi(r) = g'(r)/r"), strict=True):
        ax.plot(r, am.evaluate(expr, r), lw=1.5)
        ax.set_title(label)
        ax.set_xlabel("r")
        ax.axhline(0, color="0.7", lw=0.6)
        for p in f.points:
            ax.axvline(am.to_float(p), color="tab:red", lw=0.6, ls="--")
    fig.tight_layout()
    kfig = out_dir / "audit_kernel.png"
    _save(fig, kfig)
    plt.close(fig)
    errs = a.data.get("float32")
    if not errs:
        return kfig, None
    from numeric.compare import tolerance

    seps = [v["separation"] for v in errs.values() if v["separation"] is not None]
    vals = [v["max_rel_error"] for v in errs.values() if v["separation"] is not None]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    shown = [min(v, 10.0) for v in vals]
    ax.loglog(seps, np.maximum(shown, 1e-12), "o-", label="float32 vs float64, rel. error of dL/dZ")
    ax.axhline(tolerance(np.float32, "dZ"), color="tab:red", ls="--", label="float32 tolerance")
    ax.axhline(max(errs["none"]["max_rel_error"], 1e-12), color="0.5", ls=":", label="separated nodes")
    ax.invert_xaxis()
    ax.set_xlabel("separation of the node pair")
    ax.set_ylabel("max relative error (refused = 10)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    ffig = out_dir / "audit_float32.png"
    _save(fig, ffig)
    plt.close(fig)
    return kfig, ffig


def _save(fig, path: Path) -> None:
    import io

    from .provenance import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130)
    atomic_write_bytes(path, buf.getvalue())


def write_report(
    a: Audit, out_dir: str | Path, compile: bool = True, argv: list[str] | None = None
) -> tuple[Path, Path | None]:
    """LaTeX audit report (``out_dir/audit.tex``, and the PDF when TeX is present) with the verdicts, the
    mathematics of every check, the evidence, and plots of g, g', phi and the float32 error against
    separation. Returns (tex path, pdf path or None)."""
    from .latex import render

    out_dir = Path(out_dir)
    f: _Facts = a.data["facts"]
    kfig, ffig = _plots(a, out_dir)
    hess = a.check("hessian_at_coincidence").evidence
    prov = provenance(a.seed, argv)

    def short(v) -> str:
        text = v if isinstance(v, str) else json.dumps(_jsonable(v))
        return text if len(text) <= 600 else text[:600] + " ..."

    ctx = {
        "kernel": a.kernel,
        "verdict": a.verdict,
        "seed": a.seed,
        "created": prov["created"],
        "command": prov["command"],
        "versions": ", ".join(f"{k} {v}" for k, v in prov["versions"].items()),
        "params_text": ", ".join(f"{k} = {v:g}" for k, v in a.params.items()) or "none",
        "g_latex": sp.latex(f.g),
        "phi_latex": sp.latex(f.phi),
        "g0": sp.latex(f.g0) if f.g0 is not None else r"\text{undecided}",
        "dg0": sp.latex(f.dg0) if f.dg0 is not None else r"\text{undecided}",
        "d2g0": sp.latex(f.d2g0) if f.d2g0 is not None else r"\text{undecided}",
        "phi0": sp.latex(f.phi0) if f.phi0 is not None else r"\text{undecided}",
        "d3g0": _latex_text(hess.get("g'''(0+)")),
        "grid_points": int(f.grid.size),
        "points_text": ", ".join(str(p) for p in f.points) or "none (no boundary or singularity)",
        "checks": [
            {
                "name": c.name,
                "verdict": c.verdict,
                "detail": c.detail,
                "decided": str(c.evidence.get("decided", "")),
                "evidence": [(k, short(v)) for k, v in c.evidence.items() if k != "decided"],
            }
            for c in a.checks
        ],
        "fig_kernel": kfig.name,
        "fig_float32": ffig.name if ffig else "",
    }
    figures = [kfig] + ([ffig] if ffig else [])
    return render("audit.tex.j2", ctx, out_dir, "audit", figures=figures, compile=compile)


def _latex_text(v) -> str:
    if v is None:
        return r"\text{undecided}"
    return r"\text{" + str(v).replace("_", r"\_").replace("*", r"\cdot ") + "}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "kernel", help=f"library name ({', '.join(KERNELS)}) or a formula in r, e.g. 'exp(-r**2/s**2)'"
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a kernel parameter value (repeatable), e.g. --param s=0.5",
    )
    parser.add_argument("--json", action="store_true", help="print the audit as JSON instead of a table")
    parser.add_argument("--strict", action="store_true", help="a warning fails too (exit 1)")
    parser.add_argument(
        "--report", metavar="OUTDIR", help="write a LaTeX audit report (PDF when TeX is present)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    parser.add_argument("--examples", type=int, default=25, help="hypothesis examples for engines_agree")


def run(args: argparse.Namespace) -> int:
    a = audit(args.kernel, parse_params(args.param), seed=args.seed, examples=args.examples)
    if args.json:
        print(json.dumps(to_json(a), indent=2))
    else:
        print_table(a)
    if args.report:
        out = Path(args.report)
        atomic_write_json(out / "audit.json", {**to_json(a), "provenance": provenance(args.seed)})
        tex, pdf = write_report(a, out, argv=getattr(args, "argv", None))
        print(f"report: {pdf or tex}", file=sys.stderr)
    if a.verdict == "fail" or (args.strict and a.verdict == "warn"):
        return 1
    return 0
