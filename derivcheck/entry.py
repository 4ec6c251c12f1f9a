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

    return cli_main()
