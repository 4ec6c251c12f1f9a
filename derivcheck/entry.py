"""The `derivcheck` command's entry point: a Ctrl-C (or SIGTERM) that lands while the command line is
still being imported ends with one line and exit 130, as one later does (derivcheck.interrupts), not
with an import traceback. Nothing has been written yet at that point."""

import os
import signal
import sys


def _early(signum, frame):  # noqa: ARG001  (the signal handler's signature)
    sys.stderr.write("derivcheck: interrupted; nothing half-written was left behind\n")
    sys.stderr.flush()
    os._exit(130)  # no cleanup to run: only imports have happened


def main() -> int:
    """Install the early handlers, then run `derivcheck.cli.main` (which installs its own)."""
    for s in (signal.SIGINT, signal.SIGTERM):  # cli.main's interrupts.handled() replaces them
        signal.signal(s, _early)
    from derivcheck.cli import main as cli_main

    code = 1
    try:
        code = cli_main()
        return code
    finally:
        # the run has its exit code: no later signal may change it while Python shuts down (ignored
        # signals stay ignored through shutdown).
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_IGN)
        if code == 130:
            # An interrupted run ends here, its line printed and its files cleaned up by the `with` blocks:
            # skip the interpreter's shutdown. Why: under load, a run that had printed its line and
            # returned 130 still died by SIGINT (-2): strace showed the interpreter itself, 0.7 s into its
            # shutdown, restoring SIGINT's default action and killing itself. CPython does that when a
            # KeyboardInterrupt once left code it ran through its C API (PyRun_*), even if Python code
            # caught it later, as ours does.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
