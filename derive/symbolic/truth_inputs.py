"""Input checks of the ground truth (derive.symbolic.truth): shapes, NaN/Inf, complex values, coincident nodes
where the derivative does not exist, kernel weights beyond float64, dtype/device; the exact mpf
inputs in `Built.inputs` order; float64 overflow of the results."""

from __future__ import annotations

from functools import lru_cache

import mpmath
import numpy as np

from derive.errors import SpecError
from derive.lambdify import lambdify
from derive.net import Net, Params
from derive.primitives import R
from derive.symbolic.templates import kernel_coincidence_error


def check_finite64(what: str, values) -> None:
    """The ground truth returns float64: an exact value beyond its range (|v| > 1.8e308) or not a number
    is a one-line error, never a silent inf/NaN (Y = 1e300 makes the loss 1e600)."""
    arr = np.asarray(values, dtype=np.float64) if not isinstance(values, np.ndarray) else values
    if arr.size and not np.all(np.isfinite(arr.astype(np.float64))):
        raise SpecError(f"the exact {what} overflows float64 (beyond 1.8e308) at these inputs", "rescale X, Y or the parameters")


def _arr(x, name, shape):
    try:
        complex_values = np.iscomplexobj(np.asarray(x))
    except (TypeError, ValueError):
        complex_values = False  # ragged: refused below
    if complex_values:
        raise SpecError(f"{name} has complex values", f"pass the real part explicitly (np.real({name})) if it is meant")
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise SpecError(f"{name} is not a numeric array", f"pass {name} as a float array") from None
    if a.shape != shape:
        raise SpecError(f"{name} has shape {a.shape}, expected {shape}", f"give {name} the shape {shape}")
    if not np.all(np.isfinite(a)):
        raise SpecError(f"{name} contains NaN or Inf", f"clean {name} before verifying")
    return a


def exact_inputs(net, params: Params, X, Y):
    """Exact mpf inputs in `Built.inputs` order (float64 values converted exactly): (B, P, values)."""
    B, P, T, Bs, X, Y = checked_inputs(net, params, X, Y)
    flat = [v for a in P + T + Bs + [X, Y] for v in a.reshape(-1)]
    return B, P, [mpmath.mpf(float(v)) for v in flat]


def checked_inputs(net, params: Params, X, Y):
    """The validated float64 inputs (B, P, T, Bs, X, Y): P = Z_1..Z_L (spatial) or W_2..W_L, T =
    theta_2..theta_L (free amplitudes) or [], Bs = b_2..b_L or []; coincident nodes where the
    derivative does not exist and kernel weights beyond float64 refused."""
    N, L = net.widths, net.L
    X = _arr(X, "X", np.shape(X))
    if X.ndim != 2:
        raise SpecError(f"X has shape {X.shape}, expected (B, {N[0]})", "give one row per example")
    B = X.shape[0]
    X = _arr(X, "X", (B, N[0]))
    Y = _arr(Y, "Y", (B, N[-1]))
    T: list = []
    if net.spatial:
        if params.Z is None or len(params.Z) != L:
            raise SpecError(f"params.Z must hold {L} coordinate arrays", "pass one N_l x D array per layer")
        P = [_arr(z, f"Z[layer {l + 1}]", (N[l], net.dim)) for l, z in enumerate(params.Z)]
        if net.free:
            if params.theta is None or len(params.theta) != L - 1:
                raise SpecError(
                    f"amplitudes are free: params.theta must hold {L - 1} arrays", "pass one N_l x N_(l-1) array per layer"
                )
            T = [_arr(t, f"theta[layer {l + 2}]", (N[l + 1], N[l])) for l, t in enumerate(params.theta)]
    else:
        if params.W is None or len(params.W) != L - 1:
            raise SpecError(f"params.W must hold {L - 1} weight matrices", "pass one N_l x N_(l-1) array per layer")
        P = [_arr(w, f"W[layer {l + 2}]", (N[l + 1], N[l])) for l, w in enumerate(params.W)]
    Bs = []
    if net.bias:
        if params.b is None or len(params.b) != L - 1:
            raise SpecError(f"net has biases: params.b must hold {L - 1} vectors", "pass biases or set bias=False")
        Bs = [_arr(np.reshape(v, -1), f"b[layer {l + 2}]", (N[l + 1],)) for l, v in enumerate(params.b)]
    if net.spatial:
        check_coincident_nodes(net, P)
        _check_weights(net, P)
    return B, P, T, Bs, X, Y


@lru_cache(maxsize=64)
def _g_numpy(name, params):
    from derive.primitives import kernel

    return lambdify([R], kernel(name, params).bound, "numpy")


def _check_weights(net: Net, Z) -> None:
    """Refuse coordinates whose kernel weights g(r) overflow float64 (exp(r**64) at r = 3 is
    exp(3.4e30)): the exact result could not be returned as float64, and mpmath would spend minutes
    (and gigabytes, beyond any time limit: one huge integer operation) on tanh of such a weight."""
    g = _g_numpy(net.kernel, net.kernel_params)
    with np.errstate(all="ignore"):
        for l in range(1, net.L):
            d = Z[l][:, None, :] - Z[l - 1][None, :, :]
            r = np.sqrt(np.sum(d * d, axis=-1))
            w = np.asarray(g(r), dtype=np.float64) * np.ones_like(r)
            bad = (r > 0) & ~np.isfinite(w)
            if bad.any():
                i, j = (int(v) for v in np.argwhere(bad)[0])
                raise SpecError(
                    f"kernel weight g(r) overflows float64 between node {i + 1} of layer {l + 1} and node {j + 1} "
                    f"of layer {l} (r = {r[i, j]:.4g})",
                    "place the nodes where g is finite in float64",
                )


def check_coincident_nodes(net: Net, Z, order: int = 1):
    """Raise the coincidence error if two nodes of adjacent layers coincide where the derivative of
    this `order` is undefined (first order: phi(0) infinite; second: also lim r phi'(r) != 0)."""
    k = net.g
    if k.phi0_finite and (order == 1 or k.hessian_at_0):
        return
    worst = 1 if not k.phi0_finite else 2
    for l in range(1, net.L):
        for i, zi in enumerate(Z[l]):
            for j, zj in enumerate(Z[l - 1]):
                if np.array_equal(zi, zj):
                    raise kernel_coincidence_error(net, worst, f"node {i + 1} of layer {l + 1} and node {j + 1} of layer {l}")


def split_arrays(vals, shapes):
    """Consecutive object arrays of `shapes` from the flat `vals`: (arrays, number of values used)."""
    out, pos = [], 0
    for shp in shapes:
        n = int(np.prod(shp))
        out.append(np.array(vals[pos : pos + n], dtype=object).reshape(shp))
        pos += n
    return out, pos


def check_host_float64(dtype, device) -> None:
    """The symbolic engine evaluates in mpmath on the host and returns float64: say so for anything else."""
    try:
        ok = np.dtype(dtype) == np.float64
    except TypeError:
        ok = False
    if not ok:
        raise SpecError(f"the symbolic engine returns float64, not dtype={dtype!r}", "use dtype=np.float64")
    if device not in (None, "cpu"):
        raise SpecError(f"the symbolic engine runs on the host, not device={device!r}", "use device='cpu'")
