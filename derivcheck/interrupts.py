"""Ctrl-C and SIGTERM end a run, always: KeyboardInterrupt at the next bytecode, exit 130, one line.

Why more than Python's default handler: a KeyboardInterrupt raised while a garbage-collector callback
runs (hypothesis installs one) is swallowed as "unraisable", and the run would finish with exit 0. So
the handler re-sends the signal every `RETRY_S` until the command line has seen the interrupt. SIGTERM
gets the same handler, so `with` blocks (temporary TeX folders, atomic writes) clean up on both.

The command line calls `seen()` first thing in its `except KeyboardInterrupt`: it cancels the retry and
ignores every later signal of the run, so a retry (or a second Ctrl-C) cannot raise a second
KeyboardInterrupt while the "interrupted" line is printed or `handled()` exits (a traceback).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["handled", "deferred", "seen", "RETRY_S"]

RETRY_S = 0.2


class _State:
    pending = False  # an interrupt arrived and the command line has not seen it yet
    defer = 0  # inside `deferred()` blocks: hold the interrupt instead of raising it
    held = False
    done = False  # the command line has seen the interrupt and is ending the run: ignore further signals
    timer: threading.Timer | None = None  # the pending retry


def _again() -> None:
    if _State.pending and not _State.done:  # the first KeyboardInterrupt was swallowed: raise it again
        os.kill(os.getpid(), signal.SIGINT)


def _handler(signum, frame):
    if _State.done:  # a retry already on its way, or a second Ctrl-C: the run is ending anyway
        return
    _State.pending = True
    if _State.defer:  # raised inside a compiled extension's import (torch), it would abort the process
        _State.held = True
        return
    _cancel()
    _State.timer = threading.Timer(RETRY_S, _again)
    _State.timer.daemon = True
    _State.timer.start()
    raise KeyboardInterrupt


def _cancel() -> None:
    """Cancel the pending retry, waiting for one already running (it then finds `done` or sends a
    signal that the next bytecode delivers, still to `_handler`)."""
    timer, _State.timer = _State.timer, None
    if timer is not None:
        timer.cancel()
        if timer is not threading.current_thread():
            timer.join()


def seen() -> None:
    """The command line has caught the KeyboardInterrupt: no retry, and no later signal raises again.

    Call it first in the `except KeyboardInterrupt` clause that ends the run.
    """
    _State.done = True
    _State.pending = False
    _cancel()


@contextmanager
def deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends, then raise KeyboardInterrupt.

    Why: the verbs import torch, and a KeyboardInterrupt raised while torch's C++ extension initialises
    ends in `terminate called ...` and an aborted process instead of exit 130.
    """
    _State.defer += 1
    try:
        yield
    finally:
        _State.defer -= 1
        if not _State.defer and _State.held:
            _State.held = False
            raise KeyboardInterrupt


@contextmanager
def handled() -> Iterator[None]:
    """Install the handler for SIGINT and SIGTERM for the duration; mark the interrupt seen on exit.

    Outside the main thread (signal handlers cannot be set there) this does nothing.
    """
    _State.done = _State.pending = False  # a fresh run (tests call the command line many times)
    try:
        old = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:
        old = {}
    try:
        yield
    finally:
        # done first: a retry delivered before the old handlers are back is ignored, not raised;
        # signal.signal runs pending handlers before it replaces one
        _State.done = True
        _State.pending = False
        _cancel()
        for s, h in old.items():
            signal.signal(s, h)
        _State.done = False
