"""Ctrl-C and SIGTERM end a run, always: KeyboardInterrupt at the next bytecode, exit 130, one line.

Why more than Python's default handler: a KeyboardInterrupt raised while a garbage-collector callback
runs (hypothesis installs one) is swallowed as "unraisable", and the run would finish with exit 0. So
the handler re-sends the signal every `RETRY_S` until the command line has seen the interrupt. SIGTERM
gets the same handler, so `with` blocks (temporary TeX folders, atomic writes) clean up on both.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["handled", "RETRY_S"]

RETRY_S = 0.2


class _State:
    pending = False


def _again() -> None:
    if _State.pending:  # the first KeyboardInterrupt was swallowed: raise it again
        os.kill(os.getpid(), signal.SIGINT)


def _handler(signum, frame):
    _State.pending = True
    timer = threading.Timer(RETRY_S, _again)
    timer.daemon = True
    timer.start()
    raise KeyboardInterrupt


@contextmanager
def handled() -> Iterator[None]:
    """Install the handler for SIGINT and SIGTERM for the duration; mark the interrupt seen on exit.

    Outside the main thread (signal handlers cannot be set there) this does nothing.
    """
    try:
        old = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:
        old = {}
    try:
        yield
    finally:
        _State.pending = False
        for s, h in old.items():
            signal.signal(s, h)
