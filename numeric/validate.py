"""Input checks shared by every numeric engine: shapes, finiteness, coincident nodes.

Each failure is a `SpecError` whose one-line message names the array, the problem and the fix.
"""

from __future__ import annotations

import warnings

import numpy as np

from derive import MLP, Net, Params, SpecError, errors
from derive.errors import PrecisionWarning
from derive.parse import FLOAT32_DECADES

__all__ = [
    "check_inputs",
    "check_theta",
    "memory_limit",
    "as_array",
    "check_dtype",
    "coincidence_error",
    "near_coincidence",
    "check_memory",
    "check_net_memory",
    "check_constants",
    "MEMORY_BUDGET",
]

#: bytes the engines may allocate for one network's matrices (W, R, phi(R), their gradients): a size
#: beyond it is refused before anything is allocated (DERIVCHECK_MEMORY_GB overrides it)
MEMORY_BUDGET = 8 * 2**30


def check_dtype(dtype) -> type[np.floating]:
    """The engine dtype: float64 or float32 (an integer or complex dtype is a SpecError)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise SpecError(f"dtype {dtype!r} is not a NumPy dtype", "pass dtype=np.float64 or np.float32") from None
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise SpecError(f"dtype {dt.name} is not supported by the engines", "pass dtype=np.float64 or np.float32")
    return dt.type


def as_array(x, name: str, dtype) -> np.ndarray:
    """`x` as a finite real array of `dtype`. Integer and boolean inputs are converted (exactly, for
    integers below 2^53); complex values, strings and objects are refused, never silently cut."""
    check_dtype(dtype)
    try:
        raw = np.asarray(x)
    except (TypeError, ValueError):
        raise SpecError(f"{name} is not a numeric array (ragged or mixed)", f"pass {name} as a float array") from None
    if np.iscomplexobj(raw):
        raise SpecError(f"{name} has complex values", f"pass the real part explicitly (np.real({name})) if it is meant")
    if raw.dtype.kind not in "biuf":
        raise SpecError(f"{name} has dtype {raw.dtype}, not a number type", f"pass {name} as a float array")
    try:
        with np.errstate(over="raise", invalid="raise"):
            arr = np.asarray(raw, dtype=dtype)
    except FloatingPointError:
        raise SpecError(f"{name} has values outside the {np.dtype(dtype).name} range", f"rescale {name}") from None
    if not np.all(np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise SpecError(f"{name} contains NaN or Inf at index {bad}", f"clean {name} before verifying")
    return arr


def check_constants(net: Net | MLP, dtype) -> None:
    """Refuse (one line with the accepted range) a kernel or penalty parameter whose constants overflow
    `dtype`: in float32, 1/s**2 = 1e40 at s = 1e-20 is inf and every value NaN (float64's range is
    checked where the net is built)."""
    if np.dtype(dtype) == np.float32 and isinstance(net, Net) and net.spatial:
        net.g.check_range(FLOAT32_DECADES, "float32")
        for q in net.penalties:
            q.check_range(FLOAT32_DECADES, "float32")


def check_inputs(net: Net | MLP, params: Params, X, Y, dtype=np.float64):
    """Validate and convert (params, X, Y) for `net`.

    Returns:
        (Z or None, W or None, b or None, X, Y) as arrays of `dtype`; Z_l is N_l x D, W_l is
        N_l x N_(l-1), b_l has length N_l, X is B x N_1, Y is B x N_L.
    """
    L, N = net.L, net.widths
    check_memory(N, getattr(net, "dim", 0), int(np.shape(X)[0]) if np.ndim(X) >= 1 else 1, dtype)
    X = as_array(X, "X", dtype)
    Y = as_array(Y, "Y", dtype)
    if X.ndim != 2 or X.shape[1] != N[0]:
        raise SpecError(f"X has shape {X.shape}, expected (B, {N[0]})", "give one row per example, N_1 columns")
    if Y.ndim != 2 or Y.shape != (X.shape[0], N[-1]):
        raise SpecError(f"Y has shape {Y.shape}, expected ({X.shape[0]}, {N[-1]})", "give one target row per input row")
    Z = W = None
    if net.spatial:
        if params.Z is None or len(params.Z) != L:
            raise SpecError(f"params.Z must hold {L} coordinate arrays (layers 1..L)", "pass one N_l x D array per layer")
        Z = [as_array(z, f"Z[layer {l + 1}]", dtype) for l, z in enumerate(params.Z)]
        for l, z in enumerate(Z):
            if z.shape != (N[l], net.dim):
                raise SpecError(
                    f"Z of layer {l + 1} has shape {z.shape}, expected ({N[l]}, {net.dim})", "give N_l x D coordinates per layer"
                )
    else:
        if params.W is None or len(params.W) != L - 1:
            raise SpecError(f"params.W must hold {L - 1} weight matrices (layers 2..L)", "pass one N_l x N_(l-1) array per layer")
        W = _layer_matrices(params.W, "W", N, dtype)
    if Z is not None and isinstance(net, Net):
        near_coincidence(net, Z, dtype)
        check_constants(net, dtype)
    b = None
    if net.bias:
        if params.b is None or len(params.b) != L - 1:
            raise SpecError(f"net has biases: params.b must hold {L - 1} vectors (layers 2..L)", "pass biases or set bias=False")
        b = [as_array(v, f"b[layer {l + 2}]", dtype).reshape(-1) for l, v in enumerate(params.b)]
        for l, v in enumerate(b):
            if v.shape != (N[l + 1],):
                raise SpecError(f"b of layer {l + 2} has length {v.shape[0]}, expected {N[l + 1]}", "one bias per node")
    return Z, W, b, X, Y


def coincidence_error(net: Net, layer: int, i: int, j: int, order: int = 1) -> SpecError:
    """The error for r = 0 between row i of Z of `layer` and row j of `layer`-1 (0-based indices, named
    1-based in the message, as every node is) where the derivative of this `order` is undefined
    (derive.errors.coincidence_error)."""
    return errors.coincidence_error(net.g, f"node {i + 1} of layer {layer} and node {j + 1} of layer {layer - 1}", order)


def check_theta(net: Net | MLP, params: Params, dtype=np.float64) -> list[np.ndarray] | None:
    """The amplitudes theta_l (N_l x N_(l-1), layers 2..L) of a net with free amplitudes, as `dtype`
    arrays; None for every other net (theta = 1)."""
    if not (net.spatial and net.free):
        return None
    L, N = net.L, net.widths
    if params.theta is None or len(params.theta) != L - 1:
        raise SpecError(
            f"amplitudes are free: params.theta must hold {L - 1} arrays (layers 2..L)",
            "pass one N_l x N_(l-1) array per layer, or set amplitudes='none'",
        )
    return _layer_matrices(params.theta, "theta", N, dtype)


def _layer_matrices(arrays, name: str, N, dtype) -> list[np.ndarray]:
    """Per-layer N_l x N_(l-1) arrays (layers 2..L: W or theta) as `dtype`, each shape checked."""
    out = [as_array(m, f"{name}[layer {l + 2}]", dtype) for l, m in enumerate(arrays)]
    for l, m in enumerate(out):
        if m.shape != (N[l + 1], N[l]):
            raise SpecError(
                f"{name} of layer {l + 2} has shape {m.shape}, expected ({N[l + 1]}, {N[l]})",
                "rows index layer l, columns layer l-1",
            )
    return out


def near_coincidence(net: Net, Z: list[np.ndarray], dtype=np.float64) -> None:
    """Warn (`PrecisionWarning`) when two nodes of adjacent layers are so close that r^2 underflows
    (r < 1.5e-154 in float64: the engines form r^2 and lose digits, and below 1e-162 they would read
    r = 0), and refuse the pair with its true distance when the kernel has no value at r = 0 (phi(0+)
    infinite): such nodes are apart, not coincident, but the engines cannot resolve them.

    Cheap: candidates are pairs whose first coordinates differ by less than sqrt(tiny) (a sorted
    search, O((N + M) log M)); only those are measured, by scaling (r = m |d / m|, m = max |d|),
    which never underflows.
    """
    tiny = float(np.finfo(dtype).tiny)  # the smallest normal r^2
    reach = float(np.sqrt(tiny)) * 1.01
    for l in range(1, len(Z)):
        a, b = Z[l].astype(np.float64), Z[l - 1].astype(np.float64)
        if a.size == 0 or b.size == 0:
            continue
        order = np.argsort(b[:, 0], kind="stable")
        first = b[order, 0]
        lo = np.searchsorted(first, a[:, 0] - reach, "left")
        hi = np.searchsorted(first, a[:, 0] + reach, "right")
        for i in np.flatnonzero(hi > lo):
            js = order[lo[i] : hi[i]]
            d = a[i][None, :] - b[js]
            m = np.max(np.abs(d), axis=1)
            close = (m > 0) & (m < reach)
            for j, dj, mj in zip(js[close], d[close], m[close]):
                r = float(mj) * float(np.sqrt(np.sum((dj / mj) ** 2)))
                if r * r >= tiny:
                    continue
                where = f"node {i + 1} of layer {l + 1} and node {j + 1} of layer {l}"  # 1-based, as everywhere
                if not net.g.phi0_finite:
                    raise SpecError(
                        f"{where} are {r:.3g} apart (not coincident), too close for {np.dtype(dtype).name}: r^2 underflows",
                        "move them apart (r > 1.5e-154) or make them equal",
                    )
                warnings.warn(
                    f"{where} are {r:.3g} apart: r^2 underflows {np.dtype(dtype).name}, so the engines lose digits there",
                    PrecisionWarning,
                    stacklevel=3,
                )
                return


def memory_limit() -> float:
    """Bytes a run may use: DERIVCHECK_MEMORY_GB (GiB) when set, else `MEMORY_BUDGET`."""
    import os

    try:
        return float(os.environ.get("DERIVCHECK_MEMORY_GB", MEMORY_BUDGET / 2**30)) * 2**30
    except ValueError:
        raise SpecError(
            f"DERIVCHECK_MEMORY_GB={os.environ['DERIVCHECK_MEMORY_GB']!r} is not a number", "set it to the GiB allowed, e.g. 8"
        ) from None


def check_memory(widths, dim: int = 3, batch: int = 1, dtype=np.float64) -> None:
    """Refuse a network whose engine matrices would exceed `MEMORY_BUDGET` (before allocating).

    The engines hold about six N_l x N_(l-1) matrices per layer (W, R or r^2, phi(R), dW and
    temporaries), the exact side's N_l x N_(l-1) x D coordinate differences, a few B x N_l
    activations, the N_l x D coordinates and a D x D basis (the adversarial draws place a node along
    a basis vector); 100000 x 100000 is 75 GiB per matrix, and so is D = 100000's basis. Python
    integers, so a width like 10^20 is refused instead of overflowing.
    """
    limit = memory_limit()
    item = np.dtype(dtype).itemsize
    n, d, b = [int(w) for w in widths], int(dim), int(batch)
    pairs = sum(x * y for x, y in zip(n[1:], n[:-1]))
    need = item * ((6 + d) * pairs + 4 * b * sum(n) + 2 * d * sum(n) + 2 * d * d)
    if need > limit:
        size = f"widths {','.join(map(str, n))}" + (f" in D = {d}" if d else "")
        gib = need / 2**30
        raise SpecError(
            f"{size} need about {gib:.1f} GiB, over the {limit / 2**30:.0f} GiB memory budget"
            if gib < 1e6
            else f"{size} need about {gib:.2g} GiB, over the {limit / 2**30:.0f} GiB memory budget",
            "use smaller widths or D (or set DERIVCHECK_MEMORY_GB)",
        )


def check_net_memory(net: Net | MLP, batch: int = 1, dtype=np.float64) -> None:
    """`check_memory` for a built network (its widths and, when spatial, its dimension D): the gate
    every verb that draws cases runs before drawing any."""
    check_memory(net.widths, getattr(net, "dim", 0) if net.spatial else 0, batch, dtype)
