"""Exact facts about a kernel g(r), for the kernel audit `derivcheck audit-kernel`.

Everything here reads a `derive.primitives.Kernel` (g with its parameter values substituted, written
piecewise, so derivatives are the almost-everywhere derivatives that torch computes) and returns
SymPy values, Python floats or small dicts. Verdicts are not decided here: `derivcheck.audit`
composes these facts into checks.

The mathematics (MATH.md, "Coincident nodes" and "First order"): one edge contributes
w(z) = g(||z||) with z = z_i - z_j. For z != 0, with r = ||z|| and u = z / r,

    grad w = g'(r) u,        Hess w = g''(r) u u^T + phi(r) (I - u u^T),   phi(r) = g'(r) / r.

So the gradient is continuous at z = 0 iff g'(0+) = 0, the Hessian is continuous there iff in
addition g''(0+) = phi(0+) (both then equal g''(0) and Hess w -> g''(0) I), and the gradient of w is
Lipschitz with constant max(sup |g''|, sup |phi|) (the eigenvalues of Hess w). The two decisions at
z = 0 are the kernel's own properties (`Kernel.gradient_at_0`, `Kernel.hessian_at_0`), which the
engines read too; this module gathers the evidence around them.

SymPy steps run under a time limit (`derive.step_limits.attempt`): a user kernel can make `limit` or
`simplify` arbitrarily slow, and the audit then falls back to the numeric scan (`numeric.scan`, fed
the NumPy forms from `numeric_form`) and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

import sympy as sp
from sympy.calculus.util import continuous_domain

from derive.decide import finite, is_zero, to_float
from derive.lambdify import lambdify
from derive.primitives import Kernel, R
from derive.step_limits import Unfinished, attempt, pure, run_limited, step_budget

__all__ = [
    "KernelFacts",
    "kernel_facts",
    "Limit",
    "derivative",
    "pieces",
    "breakpoints",
    "side_limit",
    "limit_at_0",
    "limit_inf",
    "smoothness",
    "continuity_gaps",
    "is_empty",
    "is_origin",
    "point_limits",
    "numeric_form",
    "latex",
]

POSITIVE = sp.Interval.open(0, sp.oo)
NONNEG = sp.Interval(0, sp.oo)


def derivative(k: Kernel, order: int) -> sp.Expr:
    """g^(order)(r), piecewise (a.e.), from the kernel's one SymPy definition."""
    return k.bound if order == 0 else sp.piecewise_fold(sp.diff(k.bound, R, order))


def pieces(expr: sp.Expr) -> list[tuple[sp.Expr, sp.Basic]]:
    """(expression, condition) pairs; a non-piecewise expression is one piece with condition True."""
    expr = sp.piecewise_fold(expr)
    return list(expr.args) if isinstance(expr, sp.Piecewise) else [(expr, sp.true)]


def _select(expr: sp.Expr, at: sp.Expr) -> sp.Expr | None:
    """The piece of a piecewise expression that applies at the number `at`."""
    for e, c in pieces(expr):
        if c is sp.true:
            return e
        val = c.subs(R, at)
        if val is sp.true or val == True:  # noqa: E712  (SymPy booleans)
            return e
    return None


@pure
def side_limit(expr: sp.Expr, point: sp.Expr, side: str) -> sp.Expr:
    """lim_{r -> point, side} expr for side "+" or "-", choosing the piece that holds just beside
    `point` (SymPy's `limit` does not see through Piecewise conditions)."""
    point = sp.sympify(point)
    eps = sp.Rational(1, 10**12) * max(1, abs(sp.Rational(str(sp.N(point, 20)))))
    piece = _select(expr, point + eps if side == "+" else point - eps)
    if piece is None:
        return sp.nan
    return sp.limit(piece, R, point, side)


@pure
def limit_at_0(expr: sp.Expr) -> sp.Expr:
    """lim_{r -> 0+} expr (the piece that holds just right of 0)."""
    return side_limit(expr, sp.S.Zero, "+")


@pure
def limit_inf(expr: sp.Expr) -> sp.Expr:
    """lim_{r -> oo} expr (the piece that holds for large r)."""
    piece = _select(expr, sp.Integer(10) ** 12)
    return sp.nan if piece is None else sp.limit(piece, R, sp.oo)


@pure
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


def is_empty(s: sp.Set | None) -> bool:
    """True for the empty set (None, undecided, is not)."""
    return s is not None and s == sp.S.EmptySet


def is_origin(s: sp.Set | None) -> bool:
    """True for the set {0} (a removable singularity at coincidence, e.g. sin(r)/r)."""
    return s is not None and s == sp.FiniteSet(0)


class Limit(NamedTuple):
    """An exact one-sided limit as the numeric scan reads it: where (label, r), its value as a float
    (inf/-inf for infinite limits, nan when undecided or complex) and its exact text."""

    label: str
    at: float
    value: float
    text: str


def point_limits(expr: sp.Expr, points: list[sp.Expr], at0=None, at_inf=None) -> list[Limit]:
    """Exact one-sided limits at 0+, infinity and both sides of every breakpoint (`at0`, `at_inf`:
    already known values; undecided limits have value nan and text "None")."""
    raw = [
        ("0+", 0.0, at0 if at0 is not None else attempt(limit_at_0, expr)[0]),
        ("infinity", float("inf"), at_inf if at_inf is not None else attempt(limit_inf, expr)[0]),
    ]
    for p in points:
        for side in "-+":
            raw.append((f"{p}{side}", to_float(p), attempt(side_limit, expr, p, side)[0]))
    return [Limit(label, at, to_float(v), str(v)) for label, at, v in raw]


@lru_cache(maxsize=256)
def numeric_form(expr: sp.Expr):
    """expr as a NumPy function of r (the one lambdify door), for the numeric scans of `numeric.scan`."""
    return lambdify([R], expr, "numpy")


def latex(v) -> str:
    """LaTeX of an exact value, or text saying it is undecided (None)."""
    return sp.latex(v) if v is not None else r"\text{undecided}"


@dataclass
class KernelFacts:
    """The exact facts the audit's checks share, each SymPy step time-limited (`derive.step_limits.attempt`).

    Attributes:
        k: the kernel. g, dg, d2g, phi: g, g', g'' (a.e., piecewise) and phi = g'/r (g'/r unsimplified
            when simplifying it timed out: `phi_why`).
        points: breakpoints on (0, inf) (piecewise boundaries, singularities); notes: what SymPy could not
            decide there. smooth: {point: (C^k order, one-sided limits)}.
        g0, dg0, d2g0, phi0: limits at 0+ (None when undecided, with the reason in the `*_why` fields).
        ginf, dginf: limits of g and g' at infinity (None when undecided).
    """

    k: Kernel
    g: sp.Expr
    dg: sp.Expr
    d2g: sp.Expr
    phi: sp.Expr
    phi_why: str | None
    points: list
    notes: list[str]
    g0: Any
    dg0: Any
    dg0_why: str | None
    d2g0: Any
    d2g0_why: str | None
    phi0: Any
    phi0_why: str | None
    ginf: Any
    dginf: Any
    smooth: dict = field(default_factory=dict)

    def c1_everywhere(self) -> bool:
        """g is C1 at every breakpoint on (0, inf)."""
        return all(order >= 1 for order, _ in self.smooth.values())


def _fact(fn) -> tuple[Any, str | None]:
    """A kernel limit under the step budget: (value, None) or (None, why it is undecided)."""
    value, why = attempt(fn)
    if value is None and why is None:  # the kernel's own budgeted limit gave up
        why = "SymPy did not decide it within the step budget"
    return value, why


def kernel_facts(k: Kernel) -> KernelFacts:
    """Compute the shared exact facts of kernel `k` (within the caller's `derive.step_limits.budget`).

    All its steps run in one supervised child, each under its own limit (derive.step_limits: nested
    steps); the kernel's exact values found there (g'(0+), phi, ...) are adopted by `k`, so the steps
    that read them later do not derive them again. Should that child give no answer at all, the steps
    run one child each."""
    try:
        facts = run_limited(_kernel_facts, k, seconds=_FACTS_STEPS * step_budget())
    except Unfinished:
        return _kernel_facts(k)
    for name, value in vars(facts.k).items():  # the kernel's cached exact values (cached_property)
        if isinstance(getattr(type(k), name, None), cached_property):
            k.__dict__.setdefault(name, value)
    facts.k = k
    return facts


#: steps of `kernel_facts` (its limit as one child, when no budget is shorter)
_FACTS_STEPS = 40


def _kernel_facts(k: Kernel) -> KernelFacts:
    dg, d2g = derivative(k, 1), derivative(k, 2)
    points, notes = breakpoints(k)
    dg0, dg0_why = _fact(lambda: k.dg0)
    d2g0, d2g0_why = _fact(lambda: k.d2g0)
    phi, phi_why = attempt(lambda: k.phi)
    phi_why = phi_why or (k.phi_note if phi is not None else None)
    phi0, phi0_why = _fact(lambda: k.phi0)
    return KernelFacts(
        k=k,
        g=k.bound,
        dg=dg,
        d2g=d2g,
        phi=dg / R if phi is None else phi,
        phi_why=phi_why,
        points=points,
        notes=notes,
        g0=_fact(lambda: k.g0)[0],
        dg0=dg0,
        dg0_why=dg0_why,
        d2g0=d2g0,
        d2g0_why=d2g0_why,
        phi0=phi0,
        phi0_why=phi0_why,
        ginf=attempt(limit_inf, k.bound)[0],
        dginf=attempt(limit_inf, dg)[0],
        smooth={p: smoothness(k, p) for p in points},
    )
