"""Deciding exact facts with SymPy: is a value zero, is it finite.

Every question "is this SymPy value 0 / finite?" in the project is answered here, once
(`is_zero`, `finite`, `to_float`); every SymPy step that may run arbitrarily long on a user's
formula (`limit`, `simplify`, `solveset` on a kernel, a formula claim's proof) runs under one time
limit, which lives with the size cap in derive.step_limits (`run_limited`, `attempt`, with `budget`
sharing seconds among many steps; import them from there). This module decides
zero and finiteness: a number by SymPy's assumptions or numerically (float64 first, to refuse values
beyond it before mpmath builds them), an expression by a rational-point disproof, then expansion,
then simplification, each step time-limited.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import mpmath
import numpy as np
import sympy as sp

from derive.lambdify import lambdify
from derive.step_limits import Unfinished, attempt, run_limited, step_budget

__all__ = [
    "is_zero",
    "all_zero",
    "zero_verdict",
    "finite",
    "to_float",
]


def _beyond_float(v) -> float | None:
    """v evaluated in float64 first: inf/-inf/nan when it overflows there (exp(exp(exp(exp(e))))),
    else None. mpmath (sp.N) would try to build such a number to full precision, in one C-level
    big-integer operation no time limit can stop (minutes, gigabytes)."""
    try:
        with np.errstate(all="ignore"):
            x = lambdify([], v, "numpy")()
        x = complex(x)
    except Exception:  # noqa: BLE001  not evaluable in float64 (Piecewise, symbols ...): no opinion
        return None
    if math.isinf(x.real) or math.isinf(x.imag):
        return x.real if x.imag == 0 else float("nan")
    if math.isnan(x.real) and not v.has(sp.nan):
        return float("nan")
    return None


def finite(v) -> bool:
    """True for a finite real SymPy number (False for oo, zoo, nan, AccumBounds, complex, a symbolic
    expression or None).

    >>> finite(sp.Rational(-2)), finite(-sp.oo), finite(sp.I), finite(None)
    (True, False, False, False)
    """
    if v is None:
        return False
    v = sp.sympify(v)
    if not v.is_number or v.has(sp.nan, sp.zoo, sp.oo, -sp.oo, sp.AccumBounds):
        return False
    if _beyond_float(v) is not None:
        return False
    try:
        c = complex(sp.N(v))
    except (TypeError, ValueError):
        return False
    return c.imag == 0 and math.isfinite(c.real)


def to_float(v) -> float:
    """A SymPy value as a float: inf and -inf for the infinite limits, nan for None (undecided),
    complex or non-numeric values.

    >>> to_float(sp.pi / 4), to_float(-sp.oo), to_float(None)
    (0.7853981633974483, -inf, nan)
    """
    if v is None:
        return float("nan")
    v = sp.sympify(v)
    if v == sp.oo:
        return float("inf")
    if v == -sp.oo:
        return float("-inf")
    beyond = _beyond_float(v)
    if beyond is not None:
        return beyond
    try:
        c = complex(sp.N(v))
    except (TypeError, ValueError):
        return float("nan")
    return c.real if c.imag == 0 else float("nan")


def is_zero(expr) -> bool:
    """True iff `expr` is exactly 0 (None is not).

    A number is decided by SymPy's assumptions, else numerically (|v| < 1e-30 at 40 digits). An
    expression with symbols is first evaluated at an exact rational point (a visibly nonzero value
    disproves it at once), then expanded, then simplified.

    >>> x = sp.Symbol("x", real=True)
    >>> is_zero(sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1), is_zero(x - 1), is_zero(sp.oo)
    (True, False, False)
    """
    if expr is None:
        return False
    e = sp.sympify(expr)
    if e.is_number:
        if e.is_zero is not None:
            return bool(e.is_zero)
        if _beyond_float(e) is not None:
            return False
        try:
            return abs(complex(sp.N(e, 40))) < 1e-30
        except (TypeError, ValueError):
            return False
    return all_zero([e])


def all_zero(exprs: Sequence) -> bool:
    """True iff every expression of `exprs` is proved identically 0 (see `is_zero`); False when one is
    nonzero or is not proved zero within the budget (`zero_verdict` tells the two apart)."""
    return zero_verdict(exprs) is True


def zero_verdict(exprs: Sequence, proof_form: Callable[[sp.Expr], sp.Expr] | None = None) -> bool | None:
    """Whether every expression of `exprs` is identically 0, with its evidence: True (each proved 0 by
    expansion or simplification), False (one is nonzero at an exact rational point: a disproof), or None
    (undecided: no counterexample at the point, but some expression not proved 0 within the step
    budgets). Never False for lack of time. `proof_form`, when given, rewrites each expression for the
    proof only (e.g. sign(u) as u/|u| where u != 0); the disproof evaluates the expressions as given."""
    exprs = [sp.sympify(e) for e in exprs]
    if _disproved(exprs):
        return False
    forms = exprs if proof_form is None else [proof_form(e) for e in exprs]
    return True if _all_zero_forms(tuple(forms)) else None


def _all_zero_forms(forms: tuple) -> bool:
    """Every form proved 0 by `_zero_form`: in one supervised child for all of them (each step keeps
    its own limit there: derive.step_limits, nested steps), not a child per step. A child that gives no
    answer at all proves nothing."""
    try:
        return bool(run_limited(_each_zero_form, forms, seconds=10 * len(forms) * step_budget() + 1))
    except Unfinished:
        return False


def _each_zero_form(forms: tuple) -> bool:
    return all(_zero_form(e) for e in forms)


def _disproved(exprs: list) -> bool:
    """True when some expression is visibly nonzero at one exact rational point (deterministic)."""
    syms = sorted(set().union(*[e.free_symbols for e in exprs]), key=str)
    rng = np.random.default_rng(0)  # seeded: the verdict is reproducible
    # A point of order-1 values (k/23, k in -9..9), so kernel values such as exp(-r^2) are not
    # astronomically small.
    point = [mpmath.mpf(int(rng.integers(-9, 10))) / 23 for _ in syms]
    try:  # float64 first: a value beyond it would make mpmath build astronomically large numbers
        with np.errstate(all="ignore"):
            rough = lambdify(syms, list(exprs), "numpy")(*[float(p) for p in point])
        if not all(np.all(np.isfinite(np.asarray(v, dtype=complex))) for v in rough):
            return False
    except Exception:  # noqa: BLE001  not evaluable in float64: the exact evaluation decides
        pass
    try:
        with mpmath.workdps(40):
            values = lambdify(syms, list(exprs), "mpmath")(*point)
            return any(abs(mpmath.mpmathify(v)) > mpmath.mpf(10) ** -30 for v in values)
    except Exception:  # noqa: BLE001  an undefined function f(x), a pole at the point ...: no verdict here
        return False


def _zero_form(e: sp.Expr) -> bool:
    """e == 0 by expansion, then simplification, each within five step budgets (20 s by default; a
    proof may be long, but never unbounded); an undecided step is "not proved zero"."""
    seconds = 5 * step_budget()
    expanded, _ = attempt(lambda: sp.expand(e), seconds=seconds)
    if expanded is None:
        return False
    if expanded == 0:
        return True
    simple, _ = attempt(lambda: sp.simplify(expanded), seconds=seconds)
    return simple is not None and simple == 0
