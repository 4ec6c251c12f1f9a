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

    try:
        return cli_main()
    finally:
        # the run has its exit code: no later signal may change it while Python shuts down, when Python
        # has put SIGINT back to its default action (seen once in a loaded test run: the "interrupted"
        # line, then death by SIGINT, -2, instead of 130; the late signal's source was not pinned down).
        # Ignored signals stay ignored through shutdown.
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_IGN)
