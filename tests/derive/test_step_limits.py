"""derive.step_limits: a SymPy step runs in a child process that is killed at its wall-clock limit and
capped in memory (issue 22: the SIGALRM limit raised into garbage-collector callbacks, where the
exception was lost, and could not stop a C-level blow-up at all). The step then takes its degraded
path with the reason; exceptions come back; no signal handler is left behind; any thread may call.

No test here reads a clock: a step that never ends returning at all means the limit stopped it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest
import sympy as sp

from derive.errors import SpecError
from derive.step_limits import OutOfMemory, Timeout, Unsendable, attempt, run_limited

x = sp.Symbol("x")


def forever():
    while True:
        pass


def test_a_python_loop_is_stopped_at_the_limit():
    assert attempt(forever, seconds=0.2) == (None, "SymPy did not decide it within 0.2 s")


def test_a_c_level_blow_up_is_stopped_at_the_limit():
    # simplify evaluates 7**(10**9): one big-integer power in C, holding the interpreter for minutes
    # (an alarm's handler would only run after it)
    value, why = attempt(sp.simplify, sp.Pow(7, 10**9, evaluate=False), seconds=0.3)
    assert value is None and why == "SymPy did not decide it within 0.3 s"


def test_an_allocation_over_the_memory_cap_is_the_degraded_path(monkeypatch):
    monkeypatch.setenv("DERIVCHECK_MEMORY_GB", "0.5")
    value, why = attempt(lambda: bytearray(4 * 2**30), seconds=30)
    assert value is None and "ran out of memory" in why and "DERIVCHECK_MEMORY_GB" in why
    with pytest.raises(OutOfMemory):
        run_limited(lambda: len(bytearray(4 * 2**30)), seconds=30)


def test_a_child_ended_by_a_signal_is_the_degraded_path():
    value, why = attempt(lambda: os.kill(os.getpid(), signal.SIGSEGV), seconds=30)
    assert value is None and "signal SIGSEGV" in why


def test_no_alarm_is_installed_or_armed():
    before = signal.getsignal(signal.SIGALRM)
    attempt(forever, seconds=0.05)
    assert attempt(sp.simplify, sp.sin(x) ** 2 + sp.cos(x) ** 2) == (1, None)
    assert signal.getsignal(signal.SIGALRM) == before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_step_outside_the_main_thread_is_limited():
    out = []
    t = threading.Thread(target=lambda: out.append(attempt(forever, seconds=0.2)))
    t.start()
    t.join(60)  # bounds a hang only
    assert out == [(None, "SymPy did not decide it within 0.2 s")]


def test_nested_steps_run_inline_in_the_child():
    def inner():
        return os.getpid()

    def outer():
        return os.getpid(), run_limited(inner), attempt(sp.factor, x**2 - 1)

    outer_pid, inner_pid, (factored, why) = run_limited(outer)
    assert outer_pid != os.getpid() and inner_pid == outer_pid  # one child, no fork inside it
    assert factored == (x - 1) * (x + 1) and why is None


def test_a_nested_step_keeps_its_own_limit():
    """The outer step goes on past an inner step that overran (the child is replaced; the inner answers
    it already had are handed to the new child, the overrun one raises Timeout at its call)."""

    def outer():
        first = attempt(sp.factor, x**2 - 4)
        stuck = attempt(forever, seconds=0.1)
        return first, stuck, attempt(sp.expand, (x + 1) ** 2), os.getpid()

    first, stuck, last, pid = run_limited(outer, seconds=60)
    assert first == ((x - 2) * (x + 2), None) and stuck == (None, "SymPy did not decide it within 0.1 s")
    assert last == (x**2 + 2 * x + 1, None) and pid != os.getpid()
    # nest=True (a caller that bounds a whole run, as the fuzz tests do): the steps inside fork their own
    assert run_limited(lambda: attempt(forever, seconds=0.1), seconds=60, nest=True) == (
        None,
        "SymPy did not decide it within 0.1 s",
    )


def test_a_nested_step_that_runs_out_of_memory_is_its_degraded_path(monkeypatch):
    monkeypatch.setenv("DERIVCHECK_MEMORY_GB", "0.5")

    def outer():
        return attempt(lambda: len(bytearray(4 * 2**30))), attempt(lambda: os.kill(os.getpid(), signal.SIGSEGV))

    (v1, why1), (v2, why2) = run_limited(outer, seconds=60)
    assert v1 is None and "ran out of memory" in why1
    assert v2 is None and "signal SIGSEGV" in why2


def test_an_exception_is_re_raised_in_the_parent():
    def bad():
        raise SpecError("kernel 'q' is unknown", "use gaussian")

    with pytest.raises(SpecError, match="kernel 'q' is unknown; use gaussian") as info:
        run_limited(bad)
    assert any("raised in a supervised step" in n for n in info.value.__notes__)
    assert attempt(lambda: sp.limit(1 / 0, x, 0)) == (None, "SymPy could not decide it (ZeroDivisionError)")

    class Local(KeyError):  # a class pickle cannot name comes back as its nearest base that it can
        pass

    def local():
        raise Local("k")

    with pytest.raises(KeyError):
        run_limited(local)


def test_an_answer_that_does_not_pickle_is_no_answer():
    with pytest.raises(Unsendable, match="could not be sent back"):
        run_limited(lambda: lambda: 1)
    value, why = attempt(lambda: lambda: 1)
    assert value is None and "could not be sent back" in why


def test_answers_of_named_steps_are_kept_also_from_nested_steps(monkeypatch):
    e = sp.cos(x) ** 2 + sp.sin(x) ** 2 + x * 1234567  # not asked before in this session

    def outer():
        return attempt(sp.simplify, e)[0]

    assert run_limited(outer) == x * 1234567 + 1

    def no_fork():
        raise AssertionError("forked for an answer already known")

    monkeypatch.setattr(os, "fork", no_fork)
    assert attempt(sp.simplify, e) == (x * 1234567 + 1, None)  # the child's nested answer came back


def test_ctrl_c_ends_the_step_and_its_child_quietly(tmp_path):
    """SIGINT to the process group (as a terminal sends it): the parent stops with KeyboardInterrupt,
    kills the child, and the child prints nothing."""
    pid_file = tmp_path / "child.pid"
    script = textwrap.dedent(
        f"""
        import os, sys, time
        from derive.step_limits import run_limited

        def step():
            with open({str(pid_file)!r}, "w") as fh:
                fh.write(str(os.getpid()))
            while True:
                time.sleep(0.01)

        try:
            run_limited(step, seconds=600)
        except KeyboardInterrupt:
            print("interrupted")
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        for _ in range(6000):  # bounds a hang only (60 s)
            if pid_file.exists() and pid_file.read_text():
                break
            threading.Event().wait(0.01)
        child = int(pid_file.read_text())
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert out.strip() == "interrupted" and "Traceback" not in err, err
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


def test_a_spent_budget_is_a_timeout_before_any_fork():
    from derive.step_limits import budget

    with budget(0.0), pytest.raises(Timeout, match="budget is spent"):
        run_limited(forever)
