"""Exact (and, where SymPy cannot decide, numerically scanned) facts about a kernel g(r), for the
kernel audit `derivcheck audit-kernel`.

Everything here reads a `derive.primitives.Kernel` (g with its parameter values substituted, written
piecewise, so derivatives are the almost-everywhere derivatives that torch computes) and returns
SymPy values, Python floats or small dicts. Verdicts are not decided here: `derivcheck.audit`
composes these facts into checks.

The mathematics (MATH.md, "Coincident nodes" and "First order"): one edge contributes
w(z) = g(||z||) with z = z_i - z_j. For z != 0, with r = ||z|| and u = z / r,

    grad w = g'(r) u,        Hess w = g''(r) u u^T + phi(r) (I - u u^T),   phi(r) = g'(r) / r.

So the gradient is continuous at z = 0 iff g'(0+) = 0, the Hessian is continuous there iff in
addition g''(0+) = phi(0+) (both then equal g''(0) and Hess w -> g''(0) I), and the gradient of w is
Lipschitz with constant max(sup |g''|, sup |phi|) (the eigenvalues of Hess w).

SymPy steps run under a time limit (`attempt`): a user kernel can make `limit` or `simplify`
arbitrarily slow, and the audit then falls back to the numeric scan and says so.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp
from sympy.calculus.util import continuous_domain

from .lambdify import lambdify
from .primitives import Kernel, R

__all__ = [
    "BUDGET",
    "Timeout",
    "time_limit",
    "budget",
    "attempt",
    "derivative",
    "pieces",
    "breakpoints",
    "side_limit",
    "limit_inf",
    "smoothness",
    "continuity_gaps",
    "grid",
    "evaluate",
    "sup_abs",
    "point_limits",
    "value_range",
    "dead_fraction",
    "is_zero",
    "finite",
    "to_float",
]

BUDGET = 4.0  # seconds allowed for one SymPy step before the audit falls back to numbers
POSITIVE = sp.Interval.open(0, sp.oo)
NONNEG = sp.Interval(0, sp.oo)


class Timeout(Exception):
    """A SymPy step exceeded its time limit."""


@contextmanager
def time_limit(seconds: float):
    """Raise `Timeout` in the block after `seconds` (SIGALRM; a no-op outside the main thread)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def _raise(signum, frame):
        raise Timeout

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


_DEADLINE: list[float | None] = [None]


@contextmanager
def budget(seconds: float):
    """Share `seconds` among all `attempt` calls in the block (a whole audit's SymPy time)."""
    old = _DEADLINE[0]
    _DEADLINE[0] = time.monotonic() + seconds
    try:
        yield
    finally:
        _DEADLINE[0] = old


def attempt(fn: Callable[..., Any], *args, seconds: float = BUDGET) -> tuple[Any, str | None]:
    """Run a SymPy step with a time limit (and within the enclosing `budget`): (value, None) or
    (None, why it was not decided)."""
    if _DEADLINE[0] is not None:
        left = _DEADLINE[0] - time.monotonic()
        if left <= 0.05:
            return None, "the audit's SymPy time budget is spent"
        seconds = min(seconds, left)
    try:
        with time_limit(seconds):
            return fn(*args), None
    except Timeout:
        return None, f"SymPy did not decide it within {seconds:g} s"
    except (
        NotImplementedError,
        ValueError,
        TypeError,
        ZeroDivisionError,
        RecursionError,
        AttributeError,
        IndexError,
        KeyError,
    ) as exc:
        return None, f"SymPy could not decide it ({type(exc).__name__})"


def derivative(k: Kernel, order: int) -> sp.Expr:
    """g^(order)(r), piecewise (a.e.), from the kernel's one SymPy definition."""
    return k.bound if order == 0 else sp.piecewise_fold(sp.diff(k.bound, R, order))


def pieces(expr: sp.Expr) -> list[tuple[sp.Expr, sp.Basic]]:
    """(expression, condition) pairs; a non-piecewise expression is one piece with condition True."""
    expr = sp.piecewise_fold(expr)
    return list(expr.args) if isinstance(expr, sp.Piecewise) else [(expr, sp.true)]


def finite(v) -> bool:
    """True for a finite real SymPy number (False for oo, zoo, nan, AccumBounds, complex or None)."""
    if v is None:
        return False
    v = sp.sympify(v)
    if not v.is_number or v.has(sp.nan, sp.zoo, sp.oo, -sp.oo, sp.AccumBounds):
        return False
    try:
        c = complex(sp.N(v))
    except (TypeError, ValueError):
        return False
    return c.imag == 0 and np.isfinite(c.real)


def to_float(v) -> float:
    """A SymPy limit as a float (inf, -inf, nan for undecided or complex)."""
    if v is None:
        return float("nan")
    v = sp.sympify(v)
    if v == sp.oo:
        return float("inf")
    if v == -sp.oo:
        return float("-inf")
    try:
        c = complex(sp.N(v))
    except (TypeError, ValueError):
        return float("nan")
    return c.real if c.imag == 0 else float("nan")


def is_zero(v) -> bool:
    """Exactly zero (decided by SymPy, or numerically to 1e-30 at 40 digits when SymPy cannot)."""
    if v is None:
        return False
    v = sp.sympify(v)
    if v.is_zero is not None:
        return bool(v.is_zero)
    try:
        return abs(complex(sp.N(v, 40))) < 1e-30
    except (TypeError, ValueError):
        return False


def _select(expr: sp.Expr, at: sp.Expr) -> sp.Expr | None:
    """The piece of a piecewise expression that applies at the number `at`."""
    for e, c in pieces(expr):
        if c is sp.true:
            return e
        val = c.subs(R, at)
        if val is sp.true or val == True:  # noqa: E712  (SymPy booleans)
            return e
    return None


def side_limit(expr: sp.Expr, point: sp.Expr, side: str) -> sp.Expr:
    """lim_{r -> point, side} expr for side "+" or "-", choosing the piece that holds just beside
    `point` (SymPy's `limit` does not see through Piecewise conditions)."""
    point = sp.sympify(point)
    eps = sp.Rational(1, 10**12) * max(1, abs(sp.Rational(str(sp.N(point, 20)))))
    piece = _select(expr, point + eps if side == "+" else point - eps)
    if piece is None:
        return sp.nan
    return sp.limit(piece, R, point, side)


def limit_inf(expr: sp.Expr) -> sp.Expr:
    """lim_{r -> oo} expr (the piece that holds for large r)."""
    piece = _select(expr, sp.Integer(10) ** 12)
    return sp.nan if piece is None else sp.limit(piece, R, sp.oo)


def _solutions(eq: sp.Expr, where: sp.Set, cap: int = 6) -> list[sp.Expr]:
    sols = sp.solveset(eq, R, where)
    if not isinstance(sols, sp.FiniteSet):
        sols = sols.intersect(sp.Interval(0, 50))
    return sorted(sols, key=lambda v: float(v))[:cap] if isinstance(sols, sp.FiniteSet) else []


def breakpoints(k: Kernel, orders=(0, 1, 2)) -> tuple[list[sp.Expr], list[str]]:
    """Candidate points on (0, inf) where g, g' or g'' may fail to exist: boundaries of piecewise
    conditions and singularities of each piece. Returns (sorted exact points, notes on what SymPy
    could not decide)."""
    points: set[sp.Expr] = set()
    notes: list[str] = []
    for order in orders:
        expr = derivative(k, order)
        for rel in expr.atoms(sp.core.relational.Relational):
            sols, why = attempt(_solutions, rel.lhs - rel.rhs, POSITIVE)
            points.update(sols or [])
            if why:
                notes.append(f"boundary {rel}: {why}")
        for e, _ in pieces(expr):
            sing, why = attempt(sp.singularities, e, R, POSITIVE)
            if why:
                notes.append(f"singularities of g^({order}): {why}")
            elif isinstance(sing, sp.FiniteSet):
                points.update(p for p in sing if p.is_real)
            elif sing is not None and sing != sp.S.EmptySet:
                first, _ = attempt(lambda s: s.intersect(sp.Interval(0, 50)), sing)
                if isinstance(first, sp.FiniteSet):
                    points.update(list(first)[:6])
    pts = sorted((p for p in points if p.is_real and p.is_positive), key=lambda v: float(v))
    return pts[:12], notes


def smoothness(k: Kernel, point: sp.Expr, max_order: int = 3) -> tuple[int, list[dict]]:
    """The largest k <= max_order with g in C^k at `point` (from one-sided limits of g^(j), j <= k),
    -1 when g itself jumps or is not finite there; with the one-sided limits as evidence."""
    rows = []
    order = -1
    for j in range(max_order + 1):
        e = derivative(k, j)
        left, why_l = attempt(side_limit, e, point, "-")
        right, why_r = attempt(side_limit, e, point, "+")
        rows.append(
            {
                "order": j,
                "left": str(left) if not why_l else why_l,
                "right": str(right) if not why_r else why_r,
            }
        )
        if why_l or why_r or not (finite(left) and finite(right)) or not is_zero(sp.simplify(left - right)):
            break
        order = j
    return order, rows


def continuity_gaps(expr: sp.Expr) -> tuple[sp.Set | None, str | None]:
    """Points of [0, inf) where `expr` is not real and continuous within its own piece (SymPy's
    continuous_domain, piece by piece); None with a note when SymPy cannot decide."""
    gaps = sp.S.EmptySet
    covered = sp.S.EmptySet
    for e, c in pieces(expr):
        dom, why = attempt(lambda cond: NONNEG if cond is sp.true else cond.as_set().intersect(NONNEG), c)
        if why:
            return None, why
        dom = dom - covered
        covered = covered | dom
        if dom == sp.S.EmptySet:
            continue
        cd, why = attempt(continuous_domain, e, R, NONNEG)
        if why:
            return None, why
        gaps = gaps | (dom - cd)
    return gaps, None


def grid(k: Kernel, points: Sequence[sp.Expr] = ()) -> np.ndarray:
    """Scan grid on [0, inf): 0, log-spaced 1e-8..1e4 times the kernel's scale, a dense linear grid
    on [0, 20 * scale], and points just beside every breakpoint."""
    scales = [abs(v) for _, v in k.params if v] + [float(p) for p in points] + [1.0]
    scale = max(scales)
    parts = [np.zeros(1), np.logspace(-8, 4, 3000) * scale, np.linspace(0, 20 * scale, 8001)]
    for p in points:
        p = float(p)
        parts.append(p * (1 + np.concatenate([-np.logspace(-9, -2, 15), [0.0], np.logspace(-9, -2, 15)])))
    return np.unique(np.concatenate(parts))


def evaluate(expr: sp.Expr, r: np.ndarray) -> np.ndarray:
    """expr at the float64 points r (NaN where it is undefined or complex; no warnings)."""
    fn = lambdify([R], expr, "numpy")
    with np.errstate(all="ignore"):
        try:
            out = np.asarray(fn(r), dtype=np.complex128)
        except (ZeroDivisionError, OverflowError, ValueError, TypeError):
            out = np.array([_one(fn, v) for v in r], dtype=np.complex128)
    out = np.broadcast_to(out, r.shape)
    return np.where(np.abs(out.imag) > 1e-12 * np.maximum(1, np.abs(out.real)), np.nan, out.real)


def _one(fn, v):
    try:
        return complex(fn(v))
    except (ZeroDivisionError, OverflowError, ValueError, TypeError):
        return complex(np.nan)


@dataclass
class Sup:
    """sup |f| on [0, inf): the value, where, and how it was decided."""

    value: float
    at: float
    how: str

    def as_dict(self) -> dict:
        return {"value": self.value, "at_r": self.at, "how": self.how}


def sup_abs(expr: sp.Expr, r: np.ndarray, limits: Sequence[tuple[str, float, Any]] = ()) -> Sup:
    """sup_{r >= 0} |expr|: the maximum over the grid `r` together with exact one-sided limits
    given as (label, r, value), e.g. ("0+", 0.0, g(0+)); an infinite limit makes the supremum infinite."""
    vals = evaluate(expr, r)
    inner = r > 0
    bad = inner & ~np.isfinite(vals)
    if bad.any():
        return Sup(float("inf"), float(r[bad][0]), "numeric scan: not finite at this r")
    for label, at, lim in limits:
        if lim is not None and not finite(lim) and to_float(lim) == to_float(lim):
            return Sup(float("inf"), at, f"exact limit at r -> {label} is {lim}")
    a = np.abs(np.where(inner, vals, 0.0))
    at0 = next((lim for label, _, lim in limits if label == "0+"), None)
    if finite(at0):
        a[~inner] = abs(to_float(at0))
    i = int(np.argmax(a))
    labels = ", ".join(label for label, _, _ in limits) or "no point"
    return Sup(float(a[i]), float(r[i]), f"max over {r.size} grid points and the exact limits at {labels}")


def point_limits(expr: sp.Expr, points: list[sp.Expr], at0=None, at_inf=None) -> list[tuple[str, float, Any]]:
    """(label, r, exact one-sided limit) at 0+, infinity and both sides of every breakpoint;
    undecided limits are None."""
    out = [
        ("0+", 0.0, at0 if at0 is not None else attempt(side_limit, expr, sp.S.Zero, "+")[0]),
        ("infinity", float("inf"), at_inf if at_inf is not None else attempt(limit_inf, expr)[0]),
    ]
    for p in points:
        for side in "-+":
            out.append((f"{p}{side}", to_float(p), attempt(side_limit, expr, p, side)[0]))
    return out


def value_range(expr: sp.Expr, r: np.ndarray, at0=None, at_inf=None) -> tuple[float, float]:
    """(inf, sup) of expr on [0, inf): grid values with the exact limits at 0+ and infinity."""
    vals = evaluate(expr, r)
    extra = [to_float(v) for v in (at0, at_inf) if v is not None]
    allv = np.concatenate([vals[np.isfinite(vals) | np.isinf(vals)], np.array(extra, dtype=float)])
    allv = allv[~np.isnan(allv)]
    return (float(allv.min()), float(allv.max())) if allv.size else (float("nan"), float("nan"))


def dead_fraction(
    k: Kernel,
    rng: np.random.Generator,
    dims=(1, 2, 3),
    scale: float = 1.5,
    n: int = 20000,
    rel: float = 1e-6,
    sup_dg: float | None = None,
) -> dict:
    """Fraction of edges whose coordinate gradient is exactly zero or negligible (|g'(r)| <= rel *
    sup |g'|) when both endpoints are uniform in [-scale, scale]^D (the default layout of
    `numeric.strategies.params_for`)."""
    dg = derivative(k, 1)
    out = {}
    for D in dims:
        a, b = rng.uniform(-scale, scale, (n, D)), rng.uniform(-scale, scale, (n, D))
        r = np.sqrt(((a - b) ** 2).sum(axis=1))
        d = np.abs(evaluate(dg, r))
        top = sup_dg if sup_dg and np.isfinite(sup_dg) else float(np.nanmax(d))
        out[f"D={D}"] = {"zero": float(np.mean(d == 0)), "negligible": float(np.mean(d <= rel * top))}
    return out
