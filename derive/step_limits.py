"""The limits every SymPy step on a user's formula runs under: a wall-clock limit and an address-space
cap, enforced by running the step in a child process (`run_limited`, `attempt`, with `budget` sharing
seconds among many steps; `set_step_budget`/`step_budget` the seconds of one step, `BUDGET` by
default), and a size cap (`too_big`, `MAX_OPS` operations by sympy.count_ops).

Why a process, not an alarm: a SIGALRM handler raises into whatever frame runs, including a garbage
collector callback or a finalizer (where the exception is lost as "unraisable": a loaded `make test`
once failed so, issue 22), and it cannot stop a C-level blow-up at all (a huge big-integer power runs
to its end, allocating gigabytes). A child is killed wherever it is, and the operating system stops
its memory. The design:

* One `os.fork` per step. The child is the parent at the moment of the call, so the step is any
  closure over SymPy objects and nothing is serialised on the way in; only the answer comes back,
  pickled over a pipe (our own objects between our own processes: no file, no user bytes). A fork
  costs a few milliseconds (measured 6 ms for the fork plus a few for copied pages in a process with
  torch, SymPy and an audit loaded), paid per step; a persistent pool would have to pickle every
  closure, which SymPy closures (lambdas over kernels, bound methods) do not survive.
* The answer: the value, or the exception the step raised (re-raised here), or `Timeout` (killed at
  its limit: the caller's labelled degraded path, as before), or `OutOfMemory` (MemoryError at the
  address-space cap, or the child ended by a signal: the same degraded path with its reason).
* Nested steps (a step inside a step) run inline in the child, under the enclosing limit: no fork
  recursion. A caller that bounds a whole run (a test's hang bound) passes ``nest=True`` so the steps
  inside still get their own limits (one more level; deeper ones run inline).
* The child ignores SIGINT (Ctrl-C reaches the whole process group: the parent, interrupted, kills
  the child; the child prints nothing) and has a CPU-time limit slightly above its wall-clock limit,
  so it ends even if its parent is killed outright.
* Threads: the calling thread forks and waits; any thread may call (the alarm only worked in the main
  thread). The shared budget is per thread.

The address-space cap is the child's address space at the fork plus the memory budget
(``DERIVCHECK_MEMORY_GB``, default 8 GiB, as for the user's function in derivcheck.worker). Public
through derive.decide.
"""

from __future__ import annotations

import contextlib
import faulthandler
import gc
import inspect
import math
import os
import pickle
import select
import signal
import threading
import time
import traceback
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import sympy as sp

__all__ = [
    "BUDGET",
    "MAX_OPS",
    "Unfinished",
    "Timeout",
    "BudgetSpent",
    "OutOfMemory",
    "Unsendable",
    "run_limited",
    "pure",
    "budget",
    "budget_left",
    "attempt",
    "set_step_budget",
    "step_budget",
    "too_big",
]

BUDGET = 4.0  # seconds allowed for one SymPy step by default (`attempt`); `set_step_budget` changes it
# Largest expression (sympy.count_ops) an expensive step (simplify, factor, limit, series) is given.
# The address-space cap now stops a C-level blow-up, but a step over this size spends its whole limit
# and ends undecided anyway: refusing it at once keeps audits of large kernels fast.
MAX_OPS = 400
_STEP = [BUDGET]
MEMORY_GB = 8.0  # the default memory budget of a step's child (DERIVCHECK_MEMORY_GB overrides it)


def set_step_budget(seconds: float) -> None:
    """Set the seconds one SymPy step may take (the CLI's ``--budget SECONDS``); must be > 0."""
    from derive.errors import SpecError

    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < math.inf:
        raise SpecError(f"budget {seconds!r} must be a positive number of seconds", "pass --budget SECONDS > 0")
    if seconds > 86400:  # a day per step is no limit (and 1e308 seconds overflows every timer)
        raise SpecError(f"budget {seconds!r} is over a day per SymPy step", "pass --budget SECONDS <= 86400")
    _STEP[0] = float(seconds)


def step_budget() -> float:
    """Seconds one SymPy step may take now (default `BUDGET`)."""
    return _STEP[0]


def too_big(*exprs) -> bool:
    """True when an expression is too large to hand to simplify/factor/limit (count_ops > MAX_OPS)."""
    return any(sp.count_ops(sp.sympify(e)) > MAX_OPS for e in exprs)


class Unfinished(BaseException):
    """A supervised step gave no answer (a BaseException: it also ends a hypothesis search or any
    ``except Exception`` around the step, like the interrupt it replaces). `why` says why, in words."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


class Timeout(Unfinished):
    """The step ran past its wall-clock limit (its child was killed), or the shared budget was spent
    before it started."""


class BudgetSpent(Timeout):
    """The shared `budget` was spent before the step started (it never ran)."""


class Unsendable(Unfinished):
    """The step answered, but its answer does not pickle (a lambda, an open file ...): the caller has no
    answer (a caller that needs one runs the work itself, each step inside then in its own child)."""


class OutOfMemory(Unfinished):
    """The step's child ran out of memory (MemoryError at its address-space cap) or was ended by a
    signal (an allocator or library abort)."""


# ---- the shared budget (per thread) ----------------------------------------------------------------

_LOCAL = threading.local()


def _deadline() -> float | None:
    return getattr(_LOCAL, "deadline", None)


@contextlib.contextmanager
def budget(seconds: float):
    """Share `seconds` among all `attempt` and `run_limited` calls of this thread in the block (e.g. a
    whole kernel audit's SymPy time)."""
    old = _deadline()
    _LOCAL.deadline = time.monotonic() + seconds
    try:
        yield
    finally:
        _LOCAL.deadline = old


def budget_left() -> float | None:
    """Seconds left of the enclosing `budget` (None outside one)."""
    deadline = _deadline()
    return None if deadline is None else deadline - time.monotonic()


# ---- the supervised child ------------------------------------------------------------------------------

# How deep this process is in supervised steps: 0 in the original process, 1 in a step's child. A step
# in a child runs inline (under the enclosing limit) unless the enclosing call allowed one more level.
_DEPTH = [0]
_NEST = [False]
_HEADER = 8  # bytes of the length prefix of the answer


def _memory_cap() -> int | None:
    """The child's address-space cap in bytes: its size now plus the memory budget (None when the
    size cannot be read)."""
    try:
        gb = float(os.environ.get("DERIVCHECK_MEMORY_GB", MEMORY_GB))
    except ValueError:
        gb = MEMORY_GB
    try:
        with open("/proc/self/statm", "rb") as fh:
            pages = int(fh.read().split()[0])
        size = pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None
    return size + int(max(gb, 0.25) * 2**30)


def _limit_child(seconds: float) -> None:
    """The child's own limits: ignore Ctrl-C (the parent ends it), print nothing if it crashes, an
    address-space cap, a CPU-time limit just above the wall-clock one (it ends even if the parent is
    killed)."""
    import resource

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    faulthandler.disable()  # a crash is reported by the parent, in one line (not a dump of the stack)
    cap = _memory_cap()
    if cap is not None:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    cpu = int(min(seconds, 86400 * 2)) + 2  # the child starts with no CPU time used
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard == resource.RLIM_INFINITY or hard > cpu:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, hard))


def _portable(exc: BaseException) -> tuple:
    """What re-raises `exc` in the parent: its class (or the nearest base class pickle can name), its
    args and attributes where they pickle, and the child's traceback as a note."""
    note = "".join(traceback.format_exception(exc)[-6:]).rstrip()
    for cls in type(exc).__mro__:
        try:
            pickle.dumps(cls)
        except Exception:  # noqa: BLE001  a class defined in a function: try its base
            continue
        break
    try:
        args = pickle.loads(pickle.dumps(exc.args))
    except Exception:  # noqa: BLE001
        args = (str(exc),)
    state = {}
    for k, v in getattr(exc, "__dict__", {}).items():
        with contextlib.suppress(Exception):
            pickle.dumps(v)
            state[k] = v
    return cls, args, state, note


def _rebuild(cls: type[BaseException], args: tuple, state: dict, note: str) -> BaseException:
    exc = cls.__new__(cls)
    exc.args = args
    with contextlib.suppress(Exception):
        exc.__dict__.update(state)
    with contextlib.suppress(Exception):
        exc.add_note(f"raised in a supervised step:\n{note}")
    return exc


# ---- answers already known --------------------------------------------------------------------------
# A pure step (a SymPy function, or one of ours marked `pure`: a function of its arguments only, SymPy's
# results being deterministic) with hashable arguments has its answer kept: the same step is not run
# again, and the answers a child computed for the pure steps nested in it come back to the parent as
# they finish (a child's work is otherwise lost with it). Only pure steps: a step that calls other
# functions of ours may give another answer when one of them changes (a test patches it). Kept: values
# and exceptions (as pickled bytes: each reader gets its own copy), and timeouts with their limit (a
# later call with a longer limit runs again).
_CACHE: OrderedDict[Any, tuple] = OrderedDict()
_CACHE_SIZE = 4096
# Threads share the kept answers and the children to reap; a child gets fresh locks (a lock another
# thread held at the fork would never be released there).
_LOCK = [threading.Lock()]
os.register_at_fork(after_in_child=lambda: _LOCK.__setitem__(0, threading.Lock()))


def pure(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark `fn` a pure step: its answer depends on its arguments only (it calls SymPy and other pure
    steps, not functions of ours that a test or a caller could replace), so `run_limited` keeps it."""
    fn.__derivcheck_pure__ = True  # type: ignore[attr-defined]
    return fn


def _key(fn: Callable[..., Any], args: tuple) -> Any:
    """The cache key of ``fn(*args)``, or None when the step is not pure or its arguments not hashable."""
    if not (getattr(fn, "__derivcheck_pure__", False) or str(getattr(fn, "__module__", "")).startswith("sympy.")):
        return None
    if inspect.ismethod(fn):
        return None  # a bound method: its object is an argument too
    key = (fn, args)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _remember(key: Any, entry: tuple) -> None:
    if key is None or entry[0] in ("memory", "died", "unsendable", "interrupted"):
        return
    with _LOCK[0]:
        _CACHE[key] = entry
        _CACHE.move_to_end(key)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)


def _recall(key: Any, seconds: float) -> tuple | None:
    """The kept entry for `key` that answers a call limited to `seconds`, or None."""
    if key is None:
        return None
    with _LOCK[0]:
        entry = _CACHE.get(key)
        if entry is None or (entry[0] == "timeout" and entry[1] < seconds):
            return None
        _CACHE.move_to_end(key)
        return entry


_MEMORY = "it ran out of memory (the address-space cap; DERIVCHECK_MEMORY_GB raises it)"


def _answer(entry: tuple) -> Any:
    """The value of a kept or received entry, or its exception raised."""
    kind, payload = entry
    if kind == "timeout":
        raise Timeout(f"did not finish within {payload:g} s")
    if kind == "memory":
        raise OutOfMemory(_MEMORY)
    if kind == "died":
        raise OutOfMemory(payload)
    if kind == "unsendable":
        raise Unsendable(payload)
    value = pickle.loads(payload)
    if kind == "ok":
        return value
    raise _rebuild(*value)


def _entry(kind: str, value: Any) -> tuple:
    """An entry with its payload pickled ("ok" value, "raised" exception, "interrupted" for a
    BaseException that is not an Exception)."""
    if kind == "raised" and not isinstance(value, Exception):
        kind = "interrupted"  # (a Timeout of a step inside it ...): re-raised, never kept
    try:
        return kind, pickle.dumps(value if kind == "ok" else _portable(value), pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        return "memory", None
    except Exception as exc:  # noqa: BLE001  an answer that does not pickle: no answer, and why
        return "unsendable", f"its answer could not be sent back ({type(exc).__name__}: {exc})"


# ---- the child: the step, and the steps nested in it ------------------------------------------------
#
# A step inside a step runs inline in the child (no fork), but keeps its own limit: the child tells the
# parent when each nested step starts (with its limit) and ends (with its answer). When a nested step
# overruns, the parent kills the child and runs the outer step again in a new child, handing it the
# answers it already has by their order: the nested steps that finished return them at once, the one
# that overran raises `Timeout` where it was called (as the alarm did, but at the call, never inside
# a finalizer). The outer step is deterministic, so the new child asks the same steps in the same
# order; an answer handed over is used only while the step's name matches, never after a mismatch.

_CHANNEL = [-1]  # in a child: the pipe to its parent
_SEQ = [0]  # in a child: how many nested steps it has started
_GIVEN: dict[int, tuple[str, tuple]] = {}  # in a child: seq -> (step name, entry) from the runs before
_REPLAYS = 64  # runs of one step at most (each one decides one more nested step)


def _send(message: tuple) -> None:
    data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    view = memoryview(len(data).to_bytes(_HEADER, "little") + data)
    while view:
        view = view[os.write(_CHANNEL[0], view) :]


def _name(fn: Callable[..., Any]) -> str:
    inner = getattr(fn, "func", fn)  # a functools.partial
    return f"{getattr(inner, '__module__', '')}.{getattr(inner, '__qualname__', type(inner).__name__)}"


def _nested(fn: Callable[..., Any], args: tuple, seconds: float, key: Any) -> Any:
    """A step inside a step: run here, its start and end told to the parent (which enforces its limit)."""
    seq = _SEQ[0]
    _SEQ[0] += 1
    name = _name(fn)
    given = _GIVEN.pop(seq, None)
    if given is not None:
        if given[0] == name:
            return _answer(given[1])
        _GIVEN.clear()  # the run went another way: nothing handed over applies any more
    known = _recall(key, seconds)
    if known is not None:
        return _answer(known)
    _send(("start", seq, seconds, name))
    try:
        value = fn(*args)
    except MemoryError:
        _send(("done", seq, name, _key_bytes(key), ("memory", None)))
        raise OutOfMemory(_MEMORY) from None
    except BaseException as exc:
        entry = _entry("raised", exc)
        _send(("done", seq, name, _key_bytes(key), entry))
        _remember(key, entry)
        raise
    entry = _entry("ok", value)
    _send(("done", seq, name, _key_bytes(key), entry))
    _remember(key, entry)
    return value


def _key_bytes(key: Any) -> bytes | None:
    if key is None:
        return None
    try:
        return pickle.dumps(key, pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001  a key that does not pickle is kept in the child only
        return None


def _child(fn: Callable[..., Any], args: tuple, w: int, seconds: float, nest: bool, given: dict) -> None:
    """Run the step and write its answer to `w`; never returns (os._exit: no cleanup, no flush of the
    parent's buffers, no return into the caller's frames)."""
    code = 0
    try:
        _DEPTH[0] += 1
        _NEST[0] = nest
        _CHANNEL[0] = w
        _SEQ[0] = 0
        _GIVEN.clear()
        _GIVEN.update(given)
        gc.freeze()  # the inherited objects are never scanned: the collector does not copy their pages
        _limit_child(seconds)
        try:
            entry = _entry("ok", fn(*args))
        except MemoryError:
            entry = ("memory", None)
        except BaseException as exc:  # noqa: BLE001  re-raised in the parent
            entry = _entry("raised", exc)
        _send(("answer", entry))
    except BaseException:  # noqa: BLE001  nothing may escape into the caller's frames
        code = 1
    finally:
        os._exit(code)


# ---- the parent ---------------------------------------------------------------------------------------


class _Run:
    """One child's messages, read as they come: the nested steps open now (seq -> deadline, limit), the
    answers of those that finished, and the step's own answer."""

    def __init__(self, r: int):
        self.r, self.buf = r, bytearray()
        self.open: dict[int, tuple[float, float, str]] = {}
        self.answer: tuple | None = None
        self.eof = False

    def pump(self, deadline: float, given: dict) -> bool:
        """Read until the answer, the end of the pipe, or the earliest deadline; False at a deadline."""
        while self.answer is None and not self.eof:
            due = min([deadline] + [d for d, _, _ in self.open.values()])
            left = due - time.monotonic()
            if left <= 0 or not select.select([self.r], [], [], left)[0]:
                return False
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                self.eof = True
                break
            self.buf += chunk
            while len(self.buf) >= _HEADER:
                size = int.from_bytes(self.buf[:_HEADER], "little")
                if len(self.buf) < _HEADER + size:
                    break
                message = pickle.loads(bytes(self.buf[_HEADER : _HEADER + size]))
                del self.buf[: _HEADER + size]
                self._take(message, given)
        return True

    def _take(self, message: tuple, given: dict) -> None:
        if message[0] == "start":
            _, seq, seconds, name = message
            self.open[seq] = (time.monotonic() + max(seconds, 1e-3), seconds, name)
        elif message[0] == "done":
            _, seq, name, key, entry = message
            self.open.pop(seq, None)
            if entry[0] != "unsendable":  # (its value was used inline: a new run computes it again)
                given[seq] = (name, entry)
            if key is not None:
                with contextlib.suppress(Exception):
                    _remember(pickle.loads(key), entry)
        else:
            self.answer = message[1]


_EXITING: list[int] = []  # children killed after their answer, not yet reaped


def _kill(pid: int, wait: bool = True) -> int:
    """Kill the child (if it still runs) and reap it: its wait status. With ``wait=False`` (its answer
    is in) it is reaped later: the parent does not wait while the system tears its memory down."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if not wait:
        with _LOCK[0]:
            _EXITING.append(pid)
        return 0
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue


def _reap() -> None:
    with _LOCK[0]:
        pids = list(_EXITING)
    for pid in pids:
        try:
            done = os.waitpid(pid, os.WNOHANG)[0] != 0
        except ChildProcessError:
            done = True
        if done:
            with _LOCK[0]:
                _EXITING.remove(pid)


def _died(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        why = "its CPU-time limit" if sig == signal.SIGXCPU else f"signal {name}"
        return f"its process was ended by {why} (memory or a library abort)"
    return f"its process ended without an answer (exit status {os.waitstatus_to_exitcode(status)})"


def _supervise(fn: Callable[..., Any], args: tuple, seconds: float, nest: bool) -> tuple:
    """Run the step in children until it answers: its entry (or a timeout or died entry)."""
    deadline = time.monotonic() + max(seconds, 1e-3)
    given: dict[int, tuple[str, tuple]] = {}
    _reap()
    for _ in range(_REPLAYS):
        r, w = os.pipe()
        with warnings.catch_warnings():  # Python 3.12 warns of a fork beside other threads (torch's pool):
            warnings.simplefilter("ignore", DeprecationWarning)  # the child runs only this thread's step
            pid = os.fork()
        if pid == 0:
            os.close(r)
            _child(fn, args, w, seconds, nest, dict(given))
        os.close(w)
        run = _Run(r)
        in_time = False
        try:
            in_time = run.pump(deadline, given)
        finally:  # also on Ctrl-C here: the child ends with the call
            os.close(r)
            status = _kill(pid, wait=run.answer is None)
        if run.answer is not None:
            return run.answer
        if not in_time:
            now = time.monotonic()
            over = sorted(seq for seq, (due, _, _) in run.open.items() if due <= now and due < deadline)
            if not over:
                return "timeout", seconds
            seq = over[0]  # the outermost nested step past its limit (the ones inside it go with it)
            _, limit, name = run.open[seq]
            given[seq] = (name, ("timeout", limit))
        elif run.open:  # the child died inside a nested step: that step's answer
            seq = max(run.open)
            given[seq] = (run.open[seq][2], ("died", _died(status)))
        else:
            return "died", _died(status)
        if time.monotonic() >= deadline:
            return "timeout", seconds
    return "timeout", seconds


def run_limited(fn: Callable[..., Any], *args, seconds: float | None = None, nest: bool = False) -> Any:
    """``fn(*args)`` in a child process, within `seconds` (default `step_budget()`, within the
    enclosing `budget`) and the memory budget.

    Returns:
        what fn returned (a copy, through pickle).

    Raises:
        whatever fn raised; `Timeout` when it ran past the limit, `BudgetSpent` when the budget was
        spent before it started, `OutOfMemory` when its child ran out of memory or was ended by a
        signal.

    >>> run_limited(lambda: sp.simplify(sp.sin(sp.Symbol("x")) ** 2 + sp.cos(sp.Symbol("x")) ** 2))
    1
    """
    seconds = _STEP[0] if seconds is None else float(seconds)
    left = budget_left()
    key = _key(fn, args)
    if _DEPTH[0] > 0 and not _NEST[0]:
        if left is not None:
            seconds = min(seconds, max(left, 0.0))
        if left is not None and left <= 0.05 and _SEQ[0] not in _GIVEN:
            _SEQ[0] += 1  # (counted: the steps after it keep their order)
            raise BudgetSpent("the audit's SymPy time budget is spent")
        return _nested(fn, args, seconds, key)
    if left is not None:
        if left <= 0.05:
            raise BudgetSpent("the audit's SymPy time budget is spent")
        seconds = min(seconds, left)
    known = _recall(key, seconds)
    if known is None:
        known = _supervise(fn, args, seconds, nest)
        _remember(key, known)
    return _answer(known)


# What SymPy raises when it cannot decide (unsupported limit, no solution form, deep recursion ...).
_UNDECIDED = (NotImplementedError, ValueError, TypeError, ZeroDivisionError, RecursionError, AttributeError, IndexError, KeyError)


def attempt(fn: Callable[..., Any], *args, seconds: float | None = None) -> tuple[Any, str | None]:
    """Run a SymPy step under the limits of `run_limited` (default `step_budget()` seconds, within
    the enclosing `budget`).

    Returns:
        (value, None), or (None, why it was not decided) when the step timed out or ran out of memory,
        the budget is spent, or SymPy raised one of the errors it uses for "cannot decide".

    >>> attempt(lambda: 1 + 1)
    (2, None)
    """
    seconds = _STEP[0] if seconds is None else seconds
    if any(isinstance(a, sp.Basic) and sp.count_ops(a) > MAX_OPS for a in args):
        return None, f"the expression is too large for SymPy (over {MAX_OPS} operations)"
    left = budget_left()
    if left is not None:
        seconds = min(seconds, max(left, 0.0))
    try:
        return run_limited(fn, *args, seconds=seconds), None
    except BudgetSpent as exc:
        return None, exc.why
    except Timeout:
        return None, f"SymPy did not decide it within {seconds:g} s"
    except Unfinished as exc:  # out of memory, ended by a signal, an answer that cannot be sent back
        return None, f"SymPy did not decide it: {exc.why}"
    except _UNDECIDED as exc:
        return None, f"SymPy could not decide it ({type(exc).__name__})"
