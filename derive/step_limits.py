"""The limits every SymPy step on a user's formula runs under: a time limit (`time_limit`, `attempt`,
with `budget` sharing seconds among many steps; `set_step_budget`/`step_budget` the seconds of one
step, `BUDGET` by default) and a size cap (`too_big`, `MAX_OPS` operations by sympy.count_ops).

The time limit is SIGALRM (`signal.setitimer`): SymPy is pure Python, so the alarm interrupts it
between bytecodes. Outside the main thread, or where the platform has no `setitimer`, there is no
limit (the step runs to completion). Public through derive.decide.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import sympy as sp

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
]

BUDGET = 4.0  # seconds allowed for one SymPy step by default (`attempt`); `set_step_budget` changes it
# Largest expression (sympy.count_ops) an expensive step (simplify, factor, limit, series) is given:
# SIGALRM interrupts Python bytecode but not a C-level blow-up (a huge gmpy power, a dense polynomial
# of degree 10^10), so sizes are capped before the step, not only timed.
MAX_OPS = 400
_STEP = [BUDGET]


def set_step_budget(seconds: float) -> None:
    """Set the seconds one SymPy step may take (the CLI's ``--budget SECONDS``); must be > 0."""
    from derive.errors import SpecError

    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < math.inf:
        raise SpecError(f"budget {seconds!r} must be a positive number of seconds", "pass --budget SECONDS > 0")
    if seconds > 86400:  # SIGALRM's timer takes no more (1e308 overflowed time_t); a day per step is no limit
        raise SpecError(f"budget {seconds!r} is over a day per SymPy step", "pass --budget SECONDS <= 86400")
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


_FINALIZER_FILES = ("weakref.py", "_weakrefset.py")


def _in_gc_callback(frame) -> bool:
    """Whether `frame` runs inside code the garbage collector calls: one of gc.callbacks (hypothesis
    installs one), a weakref callback or finalizer of the standard library (weakref.finalize,
    WeakValueDictionary and WeakSet cleanups), or a `__del__` method. An exception raised there is
    swallowed as "unraisable" (pytest fails the test that was running: a loaded `make test` once lost
    `test_audit_report_builds_for_every_kernel[tanh(1-r)]` so)."""
    import gc

    codes = {getattr(cb, "__code__", None) for cb in gc.callbacks} - {None}
    while frame is not None:
        code = frame.f_code
        if code in codes or code.co_name == "__del__" or code.co_filename.endswith(_FINALIZER_FILES):
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
        # Not inside code the garbage collector runs (its callbacks, weakref callbacks, __del__): an
        # exception raised there is swallowed as "unraisable". The alarm comes back in 1 ms (then every
        # 0.1 s) and lands elsewhere: waiting the full repeat let a loop that spends most of its time in
        # finalizers outlive its limit by minutes.
        if _in_gc_callback(frame):
            signal.setitimer(signal.ITIMER_REAL, 1e-3, 0.1)
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
