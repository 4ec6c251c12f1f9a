"""Deciding exact facts with SymPy: is a value zero, is it finite, and the time limit for SymPy work.

Every question "is this SymPy value 0 / finite?" in the project is answered here, once
(`is_zero`, `finite`, `to_float`), and every SymPy step that may run arbitrarily long on a user's
formula (`limit`, `simplify`, `solveset` on a kernel, a formula claim's proof) runs under one time
limit (`time_limit`, `attempt`, with `budget` sharing seconds among many steps).

The time limit is SIGALRM (`signal.setitimer`): SymPy is pure Python, so the alarm interrupts it
between bytecodes. Outside the main thread, or where the platform has no `setitimer`, there is no
limit (the step runs to completion).
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from .lambdify import lambdify

__all__ = [
    "BUDGET",
    "MAX_OPS",
    "Timeout",
    "time_limit",
    "budget",
    "attempt",
    "set_step_budget",
    "step_budget",
    "too_big",
    "is_zero",
    "all_zero",
    "finite",
    "to_float",
]

BUDGET = 4.0  # seconds allowed for one SymPy step by default (`attempt`); `set_step_budget` changes it
# Largest expression (sympy.count_ops) an expensive step (simplify, factor, limit, series) is given:
# SIGALRM interrupts Python bytecode but not a C-level blow-up (a huge gmpy power, a dense polynomial
# of degree 10^10), so sizes are capped before the step, not only timed.
MAX_OPS = 400
_STEP = [BUDGET]


def set_step_budget(seconds: float) -> None:
    """Set the seconds one SymPy step may take (the CLI's ``--budget SECONDS``); must be > 0."""
    from .errors import SpecError

    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < math.inf:
        raise SpecError(f"budget {seconds!r} must be a positive number of seconds", "pass --budget SECONDS > 0")
    _STEP[0] = float(seconds)


def step_budget() -> float:
    """Seconds one SymPy step may take now (default `BUDGET`)."""
    return _STEP[0]


def too_big(*exprs) -> bool:
    """True when an expression is too large to hand to simplify/factor/limit (count_ops > MAX_OPS)."""
    return any(sp.count_ops(sp.sympify(e)) > MAX_OPS for e in exprs)


class Timeout(BaseException):
    """A SymPy step exceeded its time limit (a BaseException: SymPy's own ``except Exception`` blocks
    must not swallow it)."""


_ALARMS: list[float] = []  # deadlines (time.monotonic) of the enclosing time_limit blocks, outermost first


def _in_gc_callback(frame) -> bool:
    """Whether `frame` runs inside one of gc.callbacks (its code object is on the stack)."""
    import gc

    codes = {getattr(cb, "__code__", None) for cb in gc.callbacks} - {None}
    while codes and frame is not None:
        if frame.f_code in codes:
            return True
        frame = frame.f_back
    return False


@contextmanager
def time_limit(seconds: float):
    """Raise `Timeout` in the block after `seconds` (SIGALRM; no limit outside the main thread).

    Blocks nest: an inner block never outlives an outer one, and the outer limit is re-armed when the
    inner block ends. The alarm repeats every 0.1 s until the block ends, so code that swallows one
    `Timeout` still stops.

    >>> with time_limit(5.0):
    ...     sp.simplify(sp.sin(sp.Symbol("x")) ** 2 + sp.cos(sp.Symbol("x")) ** 2)
    1
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def _raise(signum, frame):
        # Not inside a garbage-collector callback (hypothesis installs one): an exception raised there is
        # swallowed as "unraisable" (and pytest reports it); the alarm repeats in 0.1 s and lands elsewhere.
        if _in_gc_callback(frame):
            return
        raise Timeout

    now = time.monotonic()
    deadline = now + max(seconds, 1e-3)
    if _ALARMS:
        deadline = min(deadline, _ALARMS[-1])
    _ALARMS.append(deadline)
    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, max(deadline - now, 1e-4), 0.1)
    try:
        yield
    finally:
        while True:  # an alarm may fire inside this cleanup: disarm until it holds
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                break
            except Timeout:
                continue
        _ALARMS.pop()
        signal.signal(signal.SIGALRM, old)
        if _ALARMS:  # re-arm the enclosing block's limit
            signal.setitimer(signal.ITIMER_REAL, max(_ALARMS[-1] - time.monotonic(), 1e-4), 0.1)


_DEADLINE: list[float | None] = [None]


@contextmanager
def budget(seconds: float):
    """Share `seconds` among all `attempt` calls in the block (e.g. a whole kernel audit's SymPy time)."""
    old = _DEADLINE[0]
    _DEADLINE[0] = time.monotonic() + seconds
    try:
        yield
    finally:
        _DEADLINE[0] = old


# What SymPy raises when it cannot decide (unsupported limit, no solution form, deep recursion ...).
_UNDECIDED = (NotImplementedError, ValueError, TypeError, ZeroDivisionError, RecursionError, AttributeError, IndexError, KeyError)


def attempt(fn: Callable[..., Any], *args, seconds: float | None = None) -> tuple[Any, str | None]:
    """Run a SymPy step under a time limit (default `step_budget()`, within the enclosing `budget`).

    Returns:
        (value, None), or (None, why it was not decided) when the step timed out, the budget is spent,
        or SymPy raised one of the errors it uses for "cannot decide".

    >>> attempt(lambda: 1 + 1)
    (2, None)
    """
    seconds = _STEP[0] if seconds is None else seconds
    if any(isinstance(a, sp.Basic) and sp.count_ops(a) > MAX_OPS for a in args):
        return None, f"the expression is too large for SymPy (over {MAX_OPS} operations)"
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
    except _UNDECIDED as exc:
        return None, f"SymPy could not decide it ({type(exc).__name__})"


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
    """True iff every expression of `exprs` is identically 0 (see `is_zero`)."""
    exprs = [sp.sympify(e) for e in exprs]
    if _disproved(exprs):
        return False
    return all(_zero_form(e) for e in exprs)


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
    seconds = 5 * _STEP[0]
    expanded, _ = attempt(lambda: sp.expand(e), seconds=seconds)
    if expanded is None:
        return False
    if expanded == 0:
        return True
    simple, _ = attempt(lambda: sp.simplify(expanded), seconds=seconds)
    return simple is not None and simple == 0
