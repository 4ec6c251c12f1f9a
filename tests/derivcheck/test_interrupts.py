"""Ctrl-C and SIGTERM always end a run with exit 130 and one line (derivcheck.interrupts, derivcheck.cli)."""

import signal
import subprocess
import sys
import textwrap
import time

import pytest

SWALLOWED = textwrap.dedent("""
    import gc, os, signal, sys, time
    from derivcheck import interrupts

    fired = []

    def callback(phase, info):  # the interrupt lands inside a gc callback, where Python swallows it
        if phase == "start" and not fired:
            fired.append(1)
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(10000):
                pass

    gc.callbacks.append(callback)
    with interrupts.handled():
        try:
            gc.collect()
            end = time.time() + 10
            while time.time() < end:
                sum(range(100))
            print("finished")
            sys.exit(0)
        except KeyboardInterrupt:
            print("interrupted")
            sys.exit(130)
""")


def test_an_interrupt_swallowed_by_a_gc_callback_is_raised_again():
    proc = subprocess.run([sys.executable, "-c", SWALLOWED], capture_output=True, text=True, timeout=60)
    assert "KeyboardInterrupt" in proc.stderr  # Python reported the first one as unraisable ...
    assert (proc.returncode, proc.stdout.strip()) == (130, "interrupted")  # ... and the run still ended


@pytest.mark.parametrize("sig, delay", [(signal.SIGINT, 0.6), (signal.SIGINT, 1.5), (signal.SIGTERM, 1.5)])
def test_signal_during_a_run_exits_130_with_one_line(tmp_path, sig, delay):
    proc = subprocess.Popen(
        [sys.executable, "-m", "derivcheck", "verify", "--quick", "--out", str(tmp_path / "r.json")],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)  # inside the heavy imports (torch's C++ extension aborted the process there) or the first cases
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("derivcheck verify: interrupted")
    assert not (tmp_path / "r.json").exists()


class _Timer:
    """threading.Timer stand-in: records the retry so that a test fires it when it chooses."""

    made: list = []

    def __init__(self, delay, fn):
        self.fn, self.cancelled, self.daemon = fn, False, True
        _Timer.made.append(self)

    def start(self):
        pass

    def cancel(self):
        self.cancelled = True

    def join(self):
        pass


class _Stderr:
    """sys.stderr whose first write runs `during` (the retry or a second signal lands mid-print)."""

    def __init__(self, during):
        self.during, self.text = during, ""

    def write(self, s):
        during, self.during = self.during, None
        if during:
            during()
            sum(range(1000))  # a few bytecodes: a pending signal's handler runs here
        self.text += s
        return len(s)

    def flush(self):
        pass


def _interrupted_run(monkeypatch, during):
    """cli.main on a verb whose run is interrupted by SIGINT; `during` runs while the "interrupted"
    line is printed. Returns (exit code, stderr)."""
    import os

    import derivcheck.audit as verb
    from derivcheck import cli, interrupts

    _Timer.made = []
    monkeypatch.setattr(interrupts.threading, "Timer", _Timer)

    def run(args):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(30)  # the handler's KeyboardInterrupt ends this at once
        return 0

    monkeypatch.setattr(verb, "run", run)
    err = _Stderr(during)
    monkeypatch.setattr(sys, "stderr", err)
    try:
        code = cli.main(["audit-kernel", "gaussian"])
    except KeyboardInterrupt:  # the traceback a user would see
        code = -1
    return code, err.text


def test_the_retry_firing_while_the_interrupt_is_printed_raises_nothing(monkeypatch):
    # the race of finding 13, forced: the 0.2 s retry fires inside the except clause of cli._dispatch
    code, err = _interrupted_run(monkeypatch, lambda: _Timer.made[0].fn())
    assert code == 130 and err.startswith("derivcheck audit-kernel: interrupted")
    assert _Timer.made and all(t.cancelled for t in _Timer.made)  # and no retry outlives the run


def test_a_second_signal_while_the_interrupt_is_printed_raises_nothing(monkeypatch):
    import os

    code, err = _interrupted_run(monkeypatch, lambda: os.kill(os.getpid(), signal.SIGTERM))
    assert code == 130 and err.startswith("derivcheck audit-kernel: interrupted")


def test_an_interrupt_while_the_command_line_is_imported_is_one_line():
    """Ctrl-C that lands while `derivcheck` is still importing its modules: one line and exit 130 (the
    entry point's handler), not an import traceback. The signal is sent from inside the import of
    derivcheck.cli, so the timing is exact."""
    import subprocess
    import sys

    code = (
        "import os, signal, sys\n"
        "import derivcheck.entry as entry\n"
        "class Finder:\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'derivcheck.cli':\n"
        "            os.kill(os.getpid(), signal.SIGINT)\n"
        "        return None\n"
        "sys.meta_path.insert(0, Finder())\n"
        "sys.argv = ['derivcheck', '--help']\n"
        "sys.exit(entry.main())\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 130, p.stderr
    assert p.stderr == "derivcheck: interrupted; nothing half-written was left behind\n" and p.stdout == ""
