"""The user's gradient function: calling it on a case (in this process, or supervised in a child process:
derivcheck.worker, which also loads ``FILE.py:FUNC``) and reading what it returns into the quantities
derivcheck compares.

Calling convention (keep it; other checks call it): spatial nets ``fn(Z, X, Y)`` with Z a list of
N_l x D arrays (layers 1..L), X B x N_1, Y B x N_L, plus ``b=`` (length-N_l arrays, layers 2..L) when the
net has biases, and ``theta=`` (N_l x N_(l-1) arrays, layers 2..L) when it has free amplitudes; MLPs
``fn(W, X, Y, b=...)`` with W a list of N_l x N_(l-1) arrays. fn returns a list (dZ per layer; dW per
layer for an MLP) or a dict with any of loss, dZ, dW, dtheta, db, dX, dX_per_example (with penalties,
loss is the objective J and dZ, dW, dtheta its derivatives: MATH.md "The wider model family").
dX_per_example (B x N_1) is the per-example input gradient, row b = d(loss of example b)/dx_b, where the
loss of example b is the net's loss on a batch of that one example (row_b / divisor(1, K)): dX times
divisor(B, K) / divisor(1, K), i.e. B x dX under the mean and batch reductions, dX under sum. With ``torch=True``
the arrays are torch float tensors and tensors may be returned.

Bad input (a bad path, an import error, fn raising, wrong shapes) is a one-line `derive.SpecError`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from derivcheck.worker import FnFailed, FnRaised
from derivcheck.worker import where as where_in
from derive import SpecError
from numeric.draws import Case

__all__ = ["call", "expected_shapes"]

QUANTITY_ORDER = ("loss", "dZ", "dW", "dtheta", "db", "dX", "dX_per_example")
_SHAPE_TEXT = {"dZ": "N_l x D", "dW": "N_l x N_(l-1)", "dtheta": "N_l x N_(l-1)", "db": "N_l"}


def expected_shapes(case: Case) -> dict[str, Any]:
    """The shape of every quantity fn may return for this case (lists: one shape per layer)."""
    net, N, B = case.net, case.net.widths, case.batch
    out: dict[str, Any] = {"loss": (), "dW": [(N[l + 1], N[l]) for l in range(net.L - 1)], "dX": (B, N[0])}
    out["dX_per_example"] = (B, N[0])
    if net.spatial:
        out["dZ"] = [(n, net.dim) for n in N]
    if net.bias:
        out["db"] = [(n,) for n in N[1:]]
    if net.spatial and net.free:
        out["dtheta"] = [(N[l + 1], N[l]) for l in range(net.L - 1)]
    return out


def _numpy(x: Any, what: str) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    try:
        a = np.asarray(x)
        if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
            raise TypeError
    except (TypeError, ValueError):
        raise SpecError(f"fn returned {type(x).__name__} for {what}, not an array", "return NumPy arrays (or tensors)") from None
    # refused, not judged: casting complex to real drops the imaginary part (a wrong gradient could pass).
    # NaN and inf are judged, not refused: where the truth is finite they are wrong values, and the
    # diagnosis names the usual cause (0/0 at coincident nodes)
    if np.iscomplexobj(a):
        raise SpecError(f"fn returned complex values for {what}", "return real arrays (np.real only if the imaginary part is 0)")
    a = a.astype(np.float64)
    return a


def _read(value: Any, q: str, shapes: Any) -> Any:
    if q == "loss":
        a = _numpy(value, "the loss")
        if a.size != 1:
            raise SpecError(f"fn returned a loss of shape {a.shape}", "return the loss as a scalar")
        return float(a.reshape(()))
    if q in ("dX", "dX_per_example"):
        a = _numpy(value, q)
        if a.shape != shapes:
            raise SpecError(f"fn returned {q} of shape {a.shape}, expected {shapes} (B x N_1)", f"return {q}, one row per example")
        return a
    if not isinstance(value, (list, tuple)):
        raise SpecError(f"fn returned {type(value).__name__} for {q}", f"return {q} as a list with one array per layer")
    first = 1 if q == "dZ" else 2
    if len(value) != len(shapes):
        layers = f"layers {first}..{first + len(shapes) - 1}"
        raise SpecError(
            f"fn returned {len(value)} arrays for {q}, expected {len(shapes)} ({layers})",
            f"return one {q} array per layer ({layers})",
        )
    out = []
    for k, (v, shp) in enumerate(zip(value, shapes)):
        a = _numpy(v, f"{q} of layer {k + first}")
        if q == "db" and a.shape != shp and a.size == shp[0]:
            a = a.reshape(shp)  # a 1 x N row is a bias gradient too
        if a.shape != shp and not (len(shp) == 2 and a.shape == shp[::-1]):
            raise SpecError(
                f"fn returned {q} of layer {k + first} with shape {a.shape}, expected {shp}",
                f"return {q} of layer l as an array of shape {_SHAPE_TEXT[q]}",
            )
        out.append(a)
    return out


def call(fn: Callable, case: Case, *, torch: bool = False, dtype=np.float64) -> dict[str, Any]:
    """Call fn on (copies of) the case's arrays and read back its quantities as float64 arrays.

    A dW or dZ of layer l may come back with its axes swapped (shape N_(l-1) x N_l for dW): it is kept,
    for the comparison to diagnose; any other shape is a `SpecError`.
    """
    net, p = case.net, case.params
    arrays: list[Any] = [a.astype(dtype) for a in (p.Z if net.spatial else p.W)]  # type: ignore[union-attr]
    X: Any = case.X.astype(dtype)
    Y: Any = case.Y.astype(dtype)
    b: list[Any] | None = [v.astype(dtype) for v in p.b] if net.bias and p.b is not None else None
    # free amplitudes: theta= (one N_l x N_(l-1) array per layer 2..L)
    theta: list[Any] | None = [t.astype(dtype) for t in p.theta] if net.spatial and net.free and p.theta else None
    if torch:
        import torch as th

        conv = lambda a: th.from_numpy(np.ascontiguousarray(a))  # noqa: E731
        arrays, X, Y = [conv(a) for a in arrays], conv(X), conv(Y)
        b = None if b is None else [conv(v) for v in b]
        theta = None if theta is None else [conv(t) for t in theta]
    kw: dict[str, Any] = {} if b is None else {"b": b}
    if theta is not None:
        kw["theta"] = theta
    on = f"on widths {'-'.join(map(str, net.widths))}, batch {case.batch}"
    try:
        out = fn(arrays, X, Y, **kw)
    except SystemExit as exc:  # fn called sys.exit(): its verdict would be lost as a silent exit code
        raise SpecError(f"fn called sys.exit({exc.code!r}) {on}", "return the gradients from fn instead of exiting") from None
    except FnRaised as exc:  # raised in the supervised process (derivcheck.worker)
        if exc.type_name == "SystemExit":
            raise SpecError(
                f"fn called sys.exit({exc.exit_code}) {on}", "return the gradients from fn instead of exiting"
            ) from None
        raise SpecError(
            f"fn raised {exc.type_name}: {exc.message} (at {exc.where}) {on}",
            "fix fn, or check that it takes (Z, X, Y) (b= with biases, theta= with free amplitudes; W for an MLP)",
        ) from None
    except FnFailed as exc:  # it hung, or its process ended
        raise SpecError(f"{exc.what} {on}", exc.fix) from None
    except Exception as exc:
        try:
            source = inspect.getsourcefile(fn)
        except TypeError:
            source = None
        where = f"at {where_in(exc, source)}) {on}"
        raise SpecError(
            f"fn raised {type(exc).__name__}: {exc} ({where}",
            "fix fn, or check that it takes (Z, X, Y) (b= with biases, theta= with free amplitudes; W for an MLP)",
        ) from None
    shapes = expected_shapes(case)
    if isinstance(out, (list, tuple)):
        out = {"dZ" if net.spatial else "dW": list(out)}
    if not isinstance(out, dict):
        raise SpecError(f"fn returned {type(out).__name__}", "return a list (dZ per layer) or a dict with loss, dZ, dW, db, dX")
    got = {}
    for q, v in out.items():
        if q not in shapes:
            known = [k for k in QUANTITY_ORDER if k in shapes]
            extra = " (the net has no biases)" if q == "db" else " (the net is not spatial)" if q == "dZ" else ""
            raise SpecError(f"fn returned unknown quantity {q!r}{extra}", f"return only {', '.join(known)}")
        if v is not None:
            got[q] = _read(v, q, shapes[q])
    if not got:
        raise SpecError("fn returned nothing to compare", "return dZ (a list) or a dict with loss, dZ, dW, db, dX")
    return {q: got[q] for q in QUANTITY_ORDER if q in got}
