"""Input checks shared by every numeric engine: shapes, finiteness, coincident nodes.

Each failure is a `SpecError` whose one-line message names the array, the problem and the fix.
"""

from __future__ import annotations

import numpy as np

from derive import MLP, Net, Params, SpecError, errors

__all__ = ["check_inputs", "check_theta", "as_array", "coincidence_error"]


def as_array(x, name: str, dtype) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=dtype)
    except (TypeError, ValueError):
        raise SpecError(f"{name} is not a numeric array", f"pass {name} as a float array") from None
    if not np.all(np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise SpecError(f"{name} contains NaN or Inf at index {bad}", f"clean {name} before verifying")
    return arr


def check_inputs(net: Net | MLP, params: Params, X, Y, dtype=np.float64):
    """Validate and convert (params, X, Y) for `net`.

    Returns:
        (Z or None, W or None, b or None, X, Y) as arrays of `dtype`; Z_l is N_l x D, W_l is
        N_l x N_(l-1), b_l has length N_l, X is B x N_1, Y is B x N_L.
    """
    L, N = net.L, net.widths
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
                raise SpecError(f"Z of layer {l + 1} has shape {z.shape}, expected ({N[l]}, {net.dim})",
                                "give N_l x D coordinates per layer")
    else:
        if params.W is None or len(params.W) != L - 1:
            raise SpecError(f"params.W must hold {L - 1} weight matrices (layers 2..L)", "pass one N_l x N_(l-1) array per layer")
        W = [as_array(w, f"W[layer {l + 2}]", dtype) for l, w in enumerate(params.W)]
        for l, w in enumerate(W):
            if w.shape != (N[l + 1], N[l]):
                raise SpecError(f"W of layer {l + 2} has shape {w.shape}, expected ({N[l + 1]}, {N[l]})",
                                "rows index layer l, columns layer l-1")
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
    """The error for r = 0 between node i of `layer` and node j of `layer`-1 where the derivative of
    this `order` is undefined (derive.errors.coincidence_error)."""
    return errors.coincidence_error(net.g, f"node {i} of layer {layer} and node {j} of layer {layer - 1}", order)


def check_theta(net: Net | MLP, params: Params, dtype=np.float64) -> list[np.ndarray] | None:
    """The amplitudes theta_l (N_l x N_(l-1), layers 2..L) of a net with free amplitudes, as `dtype`
    arrays; None for every other net (theta = 1)."""
    if not (net.spatial and net.free):
        return None
    L, N = net.L, net.widths
    if params.theta is None or len(params.theta) != L - 1:
        raise SpecError(f"amplitudes are free: params.theta must hold {L - 1} arrays (layers 2..L)",
                        "pass one N_l x N_(l-1) array per layer, or set amplitudes='none'")
    out = [as_array(t, f"theta[layer {l + 2}]", dtype) for l, t in enumerate(params.theta)]
    for l, t in enumerate(out):
        if t.shape != (N[l + 1], N[l]):
            raise SpecError(f"theta of layer {l + 2} has shape {t.shape}, expected ({N[l + 1]}, {N[l]})",
                            "rows index layer l, columns layer l-1")
    return out
