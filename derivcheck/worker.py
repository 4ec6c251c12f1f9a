"""Supervised calls of the user's code: a child process imports and runs it, the parent waits with a deadline.

`derivcheck check-grad FILE.py:FUNC` runs the user's function in a child interpreter
(``python -m derivcheck.worker TARGET CAP_BYTES``), started once per run. Whatever the function does
that is not an answer ends as one line and exit 2, and the run that judges it goes on or ends cleanly:

    raises (any BaseException, SystemExit included)   "fn raised TYPE: MESSAGE (at FILE:LINE)"
    never returns (a loop, a sleep)                   "fn did not return within T s" (--fn-timeout)
    ends the process (os._exit, abort, a signal)      "fn ended its process (exit status 0 | signal SIGABRT)"
    allocates without bound                           MemoryError at the address-space cap (RLIMIT_AS)
    starts threads that never end                     the child is killed with its process group at the end

Nothing crosses the pipe as pickle (a pickle from user code would run code in the checking process):
messages are JSON, arrays travel as dtype, shape and base64 bytes, and anything else the function
returns comes back as the name of its type, which the caller refuses in its own words. The user's
prints go to stderr (the child's stdout is the channel). The child imports NumPy, the user's module
and, with ``--torch``, torch; nothing of derivcheck's engines (its start-up stays short).
"""

from __future__ import annotations

import base64
import importlib
import importlib.util
import json
import os
import select
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

__all__ = ["Supervised", "LoadError", "FnRaised", "FnFailed", "FN_TIMEOUT", "encode", "decode", "load_function", "where"]

FN_TIMEOUT = 60.0  # seconds one call of the user's function may take (check-grad --fn-timeout)
_HEADER = 8  # bytes of the length prefix of each message


class LoadError(Exception):
    """The user's module or function could not be loaded: (what, fix), as a `derive.SpecError` takes them."""

    def __init__(self, what: str, fix: str):
        super().__init__(what)
        self.what, self.fix = what, fix


class FnRaised(Exception):
    """The user's function raised: the exception's type name, message, and where in the user's code."""

    def __init__(self, type_name: str, message: str, where: str, exit_code: Any = None):
        super().__init__(f"{type_name}: {message}")
        self.type_name, self.message, self.where, self.exit_code = type_name, message, where, exit_code


class FnFailed(Exception):
    """The call gave no answer: the function hung or its process ended. (what, fix)."""

    def __init__(self, what: str, fix: str):
        super().__init__(what)
        self.what, self.fix = what, fix


# ---- the wire format: JSON, arrays as {"nd": [dtype, shape, base64]}; no pickle --------------------


def encode(obj: Any) -> Any:
    """A JSON value for `obj`: arrays (and tensors, array-likes) as bytes, containers recursively, and
    anything else as {"type": its type name} (the receiver refuses it by that name)."""
    import numpy as np  # here, not at the top: `check-grad --help` imports this module

    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        return {"nd": _array(np.asarray(obj))}
    if isinstance(obj, complex):
        return {"nd": _array(np.asarray(obj))}
    if isinstance(obj, dict):
        return {"dict": [[str(k), encode(v)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"list": [encode(v) for v in obj]}
    if isinstance(obj, np.ndarray) or isinstance(obj, np.generic):
        a = np.asarray(obj)
        return {"type": "object array"} if a.dtype.kind not in "biufc" else {"nd": _array(a)}
    if hasattr(obj, "detach"):  # a torch tensor: sparse, meta or quantized ones cannot become arrays
        try:
            return encode(obj.detach().cpu().numpy())
        except Exception:
            return {"type": f"{type(obj).__name__} ({getattr(obj, 'layout', '?')}, {getattr(obj, 'device', '?')})"}
    if hasattr(obj, "__array__"):
        try:
            return encode(np.asarray(obj))
        except Exception:  # an __array__ that raises
            return {"type": type(obj).__name__}
    return {"type": type(obj).__name__}


def _array(a) -> list:
    import numpy as np  # here, not at the top: `check-grad --help` imports this module

    shape = list(np.shape(a))  # before ascontiguousarray, which makes a 0-d array 1-d (a float came back as shape (1,))
    a = np.ascontiguousarray(a)
    return [a.dtype.str, shape, base64.b64encode(a.tobytes()).decode("ascii")]


def decode(obj: Any) -> Any:
    """The inverse of `encode`; a {"type": NAME} becomes an instance of an empty class called NAME."""
    import numpy as np  # here, not at the top: `check-grad --help` imports this module

    if not isinstance(obj, dict):
        return obj
    if "nd" in obj:
        dtype, shape, data = obj["nd"]
        dt = np.dtype(dtype)
        if dt.kind not in "biufc":
            raise ValueError(f"refusing dtype {dtype}")
        a = np.frombuffer(base64.b64decode(data), dtype=dt).reshape(shape).copy()
        return a if a.ndim else a[()]
    if "dict" in obj:
        return {k: decode(v) for k, v in obj["dict"]}
    if "list" in obj:
        return [decode(v) for v in obj["list"]]
    if "type" in obj:
        return type(str(obj["type"]), (), {})()
    raise ValueError(f"unknown message part {sorted(obj)}")


def _send(stream, message: dict) -> None:
    data = json.dumps(message).encode()
    stream.write(len(data).to_bytes(_HEADER, "little") + data)
    stream.flush()


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes | None:
    """n bytes from fd, or None at end of file; FnFailed("timeout") past the deadline."""
    out = bytearray()
    while len(out) < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise FnFailed("timeout", "")
        chunk = os.read(fd, n - len(out))
        if not chunk:
            return None
        out += chunk
    return bytes(out)


def _recv(fd: int, deadline: float | None = None) -> dict | None:
    head = _read_exact(fd, _HEADER, deadline)
    if head is None:
        return None
    body = _read_exact(fd, int.from_bytes(head, "little"), deadline)
    return None if body is None else json.loads(body)


# ---- the child ---------------------------------------------------------------------------------------


def where(exc: BaseException, path: str | None = None) -> str:
    """FILE:LINE of the innermost frame in the user's file (or the innermost frame at all)."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if path is not None and Path(f.filename).resolve() == Path(path).resolve()]
    chosen = mine or frames
    return f"{chosen[-1].filename}:{chosen[-1].lineno}" if chosen else "?"


def load_function(target: str) -> tuple[Any, str]:
    """``FILE.py:FUNC`` (imported like a test module, from its path) or ``pkg.module:func``. Runs in the
    child only: whatever the import raises (KeyboardInterrupt, a BaseException subclass) is the user's.

    Returns:
        (the function, its source file or module name).

    Raises:
        LoadError: no such file, module or function; the import raised or called sys.exit.
    """
    mod_name, sep, func = target.rpartition(":")
    if not sep or not mod_name or not func:
        raise LoadError(f"{target!r} does not name a function", "write FILE.py:FUNC or pkg.module:func")
    if mod_name.endswith(".py") or "/" in mod_name or "\\" in mod_name:
        path = Path(mod_name)
        if not path.is_file():
            raise LoadError(f"no file {mod_name}", "check the path (relative to the current directory)")
        name = f"_derivcheck_user_{abs(hash(str(path.resolve())))}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise LoadError(f"cannot import {mod_name}", "give a Python source file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        # the user's own directory first, as pytest does for a test module (sibling imports work)
        sys.path.insert(0, str(path.resolve().parent))
        try:
            spec.loader.exec_module(module)
        except SystemExit as exc:  # sys.exit() at import would end the run with its code and no verdict
            raise LoadError(
                f"importing {mod_name} called sys.exit({exc.code!r})", "guard the script part with if __name__ == '__main__':"
            ) from None
        except BaseException as exc:  # KeyboardInterrupt, GeneratorExit, a BaseException subclass: one line too
            raise LoadError(
                f"importing {mod_name} raised {type(exc).__name__}: {exc} (at {where(exc, str(path))})", "fix the error there"
            ) from None
        finally:
            sys.path.remove(str(path.resolve().parent))
        source = str(path)
    else:
        try:
            module = importlib.import_module(mod_name)
        except SystemExit as exc:
            raise LoadError(
                f"importing {mod_name} called sys.exit({exc.code!r})", "guard the script part with if __name__ == '__main__':"
            ) from None
        except BaseException as exc:
            raise LoadError(
                f"cannot import {mod_name}: {type(exc).__name__}: {exc} (at {where(exc)})",
                "check the module name and that it is on PYTHONPATH",
            ) from None
        source = mod_name
    fn = getattr(module, func, None)
    if not callable(fn):
        names = [n for n in dir(module) if callable(getattr(module, n)) and not n.startswith("_")]
        raise LoadError(f"{source} has no function {func!r}", f"use one of {', '.join(names[:8]) or '(none)'}")
    return fn, source


def _serve(target: str, cap: int) -> None:
    """The child's loop: load the function, then answer one call per message until the pipe closes."""
    import numpy as np  # here, not at the top: `check-grad --help` imports this module

    channel = os.fdopen(os.dup(1), "wb")  # the channel; the user's prints go to stderr
    os.dup2(2, 1)
    # the requests come on a private copy of stdin, and fd 0 reads /dev/null: user code that closes or
    # reads fd 0 cannot cut the channel (os.close(0) in fn ended the child with a traceback on stderr)
    inbox = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    if cap > 0:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
        fn, source = load_function(target)
    except LoadError as exc:
        _send(channel, {"error": [exc.what, exc.fix]})
        return
    _send(channel, {"ready": source})
    while True:
        msg = _recv(inbox)
        if msg is None:
            return
        args, kw = decode(msg["args"]), decode(msg["kw"])
        if msg.get("torch"):
            import torch as th

            conv = lambda a: th.from_numpy(np.ascontiguousarray(a))  # noqa: E731
            args = [[conv(a) for a in args[0]], conv(args[1]), conv(args[2])]
            kw = {k: [conv(a) for a in v] for k, v in kw.items()}
        try:
            out = fn(*args, **kw)
            reply = {"ok": encode(out)}
        except SystemExit as exc:
            reply = {"raised": ["SystemExit", str(exc), where(exc, source), repr(exc.code)]}
        except BaseException as exc:  # anything the user's code raises is an answer of its own
            reply = {"raised": [type(exc).__name__, str(exc), where(exc, source), None]}
        try:
            _send(channel, reply)
        except (TypeError, ValueError) as exc:  # unencodable (a bare object is sent by its type name)
            _send(channel, {"raised": [type(exc).__name__, f"the result could not be sent back: {exc}", "?", None]})


# ---- the parent ----------------------------------------------------------------------------------------


def _cap_bytes() -> int:
    """The child's address-space cap: the memory budget (DERIVCHECK_MEMORY_GB, default 8) plus 4 GiB of
    room for the interpreter, NumPy and torch's own reservations."""
    try:
        gb = float(os.environ.get("DERIVCHECK_MEMORY_GB", "8"))
    except ValueError:
        gb = 8.0
    return int((max(gb, 1.0) + 4.0) * 2**30)


class Supervised:
    """The user's function, called in a child process: ``with Supervised("grad.py:grad") as fn: fn(Z, X, Y)``.

    Calls return what the function returned (arrays as NumPy arrays, containers as lists and dicts,
    other objects as instances named like their type), or raise `FnRaised` (the function raised) or
    `FnFailed` (no answer within `timeout` seconds, or the process ended). Loading raises `LoadError`.
    """

    def __init__(self, target: str, *, timeout: float = FN_TIMEOUT, torch: bool = False):
        self.target, self.timeout, self.torch = target, float(timeout), torch
        self.proc: subprocess.Popen | None = None
        self.source = ""
        self.__qualname__ = self.__name__ = target.rpartition(":")[2]

    def __enter__(self) -> Supervised:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "derivcheck.worker", self.target, str(_cap_bytes())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C reaches derivcheck, which ends the child; threads die with it
            # the child finds ``pkg.module:func`` where this process would (its sys.path, cwd for '')
            env={**os.environ, "PYTHONPATH": os.pathsep.join(p or os.getcwd() for p in sys.path)},
        )
        msg = self._answer(f"loading {self.target}")
        if "error" in msg:
            self.close()
            raise LoadError(*msg["error"])
        self.source = msg["ready"]
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """End the child and everything it started (its process group)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        proc.wait()

    def __call__(self, *args, **kw) -> Any:
        if self.proc is None:
            raise FnFailed("the process that runs fn has ended", "this is a derivcheck bug: please report it")
        message = {"args": encode(list(args)), "kw": encode(kw), "torch": self.torch}
        try:
            assert self.proc.stdin is not None
            _send(self.proc.stdin, message)
        except (BrokenPipeError, OSError):
            self._died("")
        msg = self._answer("fn")
        if "raised" in msg:
            type_name, text, where, code = msg["raised"]
            raise FnRaised(type_name, text, where, code)
        return decode(msg["ok"])

    def _answer(self, what: str) -> dict:
        assert self.proc is not None and self.proc.stdout is not None
        try:
            msg = _recv(self.proc.stdout.fileno(), time.monotonic() + self.timeout)
        except FnFailed:
            self.close()
            raise FnFailed(
                f"{what} did not return within {self.timeout:g} s",
                "fix the loop or wait in fn, or pass --fn-timeout SECONDS",
            ) from None
        if msg is None:
            self._died(what)
        return msg  # type: ignore[return-value]

    def _died(self, what: str) -> None:
        proc = self.proc
        assert proc is not None
        code = proc.wait()
        self.close()
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        raise FnFailed(
            f"{what or 'fn'} ended its process ({how})",
            "return the gradients from fn; do not call os._exit, abort or kill",
        )


if __name__ == "__main__":
    try:
        _serve(sys.argv[1], int(sys.argv[2]))
    except (OSError, ValueError):  # the user's code closed the channel's descriptors (os.closerange(0, 99)):
        os._exit(1)  # no traceback on the shared stderr; the parent says "fn ended its process (exit status 1)"
