"""derive.decide: the one is_zero / finite / to_float, and its use of the time limit for SymPy work
(derive.step_limits)."""

from __future__ import annotations

import time

import pytest
import sympy as sp

from derive.decide import all_zero, finite, is_zero, to_float
from derive.step_limits import Timeout, attempt, budget, run_limited

x = sp.Symbol("x", real=True)
r = sp.Symbol("r", positive=True)


def test_is_zero_decides_identities_and_numbers():
    assert is_zero(sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1)
    assert is_zero(sp.exp(-(r**2)) * 2 * r - sp.diff(-sp.exp(-(r**2)), r))
    assert is_zero(0) and is_zero(sp.Rational(0))
    assert not is_zero(x - 1) and not is_zero(sp.exp(-(r**2)) * 1e-40)
    assert not is_zero(None) and not is_zero(sp.oo) and not is_zero(sp.nan)
    assert is_zero(sp.sqrt(2) * sp.sqrt(3) - sp.sqrt(6))


def test_is_zero_with_undefined_functions_falls_back_to_simplify():
    f = sp.Function("f")
    assert is_zero(sp.diff(f(x) ** 2, x) - 2 * f(x) * sp.Derivative(f(x), x))
    assert not is_zero(sp.diff(f(x) ** 2, x) - f(x) * sp.Derivative(f(x), x))


def test_all_zero_is_every():
    assert all_zero([sp.S.Zero, sp.cosh(x) ** 2 - sp.sinh(x) ** 2 - 1])
    assert not all_zero([sp.S.Zero, sp.tanh(x) - 1])


@pytest.mark.parametrize(
    "v, fin, flt",
    [
        (sp.Rational(-2), True, -2.0),
        (-sp.oo, False, float("-inf")),
        (sp.oo, False, float("inf")),
        (sp.I, False, float("nan")),
        (None, False, float("nan")),
        (sp.pi, True, float(sp.pi)),
    ],
)
def test_finite_and_to_float(v, fin, flt):
    assert finite(v) is fin
    got = to_float(v)
    assert got == flt or (got != got and flt != flt)


def test_sympy_steps_respect_the_time_budget():
    def slow():
        while True:
            time.sleep(0.01)

    # slow() never returns: getting an answer at all means the limit stopped it (no clock is read here)
    value, why = attempt(slow, seconds=0.2)
    assert value is None and why == "SymPy did not decide it within 0.2 s"
    with budget(0.0):
        assert attempt(lambda: 1)[1] == "the audit's SymPy time budget is spent"


def test_attempt_reports_what_sympy_cannot_decide():
    def undecided():
        raise NotImplementedError

    assert attempt(undecided) == (None, "SymPy could not decide it (NotImplementedError)")
    assert attempt(lambda a, b: a + b, 1, 2) == (3, None)


def test_run_limited_raises_timeout_and_installs_no_signal_handler():
    import signal

    before = signal.getsignal(signal.SIGALRM)

    def forever():
        while True:
            time.sleep(0.01)

    with pytest.raises(Timeout):
        run_limited(forever, seconds=0.05)
    assert signal.getsignal(signal.SIGALRM) == before


def test_zero_verdict_tells_a_disproof_from_a_spent_budget():
    """False only with a counterexample; out of time with none is None (undecided), never False."""
    from derive.decide import zero_verdict
    from derive.step_limits import budget

    x = sp.Symbol("x", real=True)
    identity = sp.cosh(x) ** 2 - sp.sinh(x) ** 2 - 1  # zero, but only simplification shows it
    assert zero_verdict([identity]) is True
    assert zero_verdict([sp.S.Zero, sp.tanh(x) - 1]) is False
    with budget(0):  # no time for any step: nothing is proved, and nothing was disproved
        assert zero_verdict([identity]) is None
        assert zero_verdict([sp.tanh(x) - 1]) is False  # a counterexample needs no budget
        assert all_zero([identity]) is False
