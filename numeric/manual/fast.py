"""The fast NumPy engine: the maths of `reference.py`, arranged for speed (what `numeric.manual` exports).

Same equations (MATH.md "First order"; `reference.py` states them one layer at a time), three
arrangements that make the difference at N ~ 1000-2000:

- lean forward: each layer's W (and phi(R) unless phi = c g) comes from one fused, multithreaded
  numexpr pass over the coordinates (derive.lambdify); R is never stored. A non-finite value there
  (coincident nodes, 0/0 forms) raises `Singular` and the whole call is redone on the careful route
  (R, W, phi(R) kept, limits substituted at r = 0, exactly as the reference does).
- ordering for OpenBLAS: every kernel layer before any product, and no multithreaded elementwise pass
  right after a product (its worker threads keep spinning for a while and compete).
- buffers reused: layer l's N x N arrays are dead once eq. (8) has used them, so G_l is written over
  one of them and the next dW is written into G's buffer; the backward pass adds one N x N array
  (dW_l) per layer to the forward cache instead of three. No N x N x D array is ever built.

The wider model family (MATH.md): penalties on a theta = 1 net stay on the lean route, one exact r^2
pass and fused passes per penalised layer (numeric/manual/penalty.py `lean_layer`); free amplitudes,
penalties numexpr cannot express and float32 take the reference's careful route (`reference.py`). An
MLP's penalties (rho in w alone) add their value and c rho'(W) to dW in the backward pass.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from derive import MLP, Gradients, Net, Params, compile_net
from numeric.manual import penalty, reference
from numeric.manual.common import Cache, Singular, check_device, engine_dtype, loss_and_dA, pair_terms
from numeric.validate import check_inputs, coincidence_error

__all__ = ["gradients", "forward", "backward", "distances"]


def distances(Zl: np.ndarray, Zprev: np.ndarray) -> np.ndarray:
    """R_ij = ||Zl_i - Zprev_j|| (N_l x N_(l-1)), one dimension at a time: exact near r = 0, unlike
    the Gram form |z_i|^2 + |z_j|^2 - 2 z_i.z_j, and never N x N x D."""
    # in place, in two N x N buffers (the same sums in the same order as sum_d diff_d^2)
    r2 = np.subtract.outer(Zl[:, 0], Zprev[:, 0])
    np.multiply(r2, r2, out=r2)
    if Zl.shape[1] > 1:
        diff = np.empty_like(r2)
        for d in range(1, Zl.shape[1]):
            np.subtract.outer(Zl[:, d], Zprev[:, d], out=diff)
            np.multiply(diff, diff, out=diff)
            r2 += diff
        del diff
    return np.sqrt(r2, out=r2)


_BLOCK = 1 << 19  # elements per row block of the kernel evaluation (4 MiB in float64)


def _kernel_layer(net: Net, c, Zl: np.ndarray, Zp: np.ndarray, l: int, dtype):
    """Careful route: R, W = g(R) and phi(R) of one layer (N_l x N_(l-1) each), in row blocks.

    Why blocks: the compiled g and phi allocate a few temporaries each; at block size they are reused
    from the heap and stay in cache, where whole-layer temporaries would be fresh, page-faulted
    N x N buffers (the dominant cost at N = 2048). Coincident nodes get phi(0) = lim g'(r)/r and
    g(0+) (MATH.md), or a `SpecError` when g'(0) != 0.
    """
    n, m = Zl.shape[0], Zp.shape[0]
    R, W, P = (np.empty((n, m), dtype=dtype) for _ in range(3))
    step = max(1, _BLOCK // max(m, 1))
    for i0 in range(0, n, step):
        rows = slice(i0, i0 + step)
        Rb = R[rows]
        Rb[...] = distances(Zl[rows], Zp)
        zero = Rb == 0
        if zero.any():
            if not np.isfinite(c.phi0):
                i, j = np.argwhere(zero)[0]
                raise coincidence_error(net, l + 1, int(i) + i0, int(j))
            safe = np.where(zero, 1, Rb)
            W[rows] = np.where(zero, dtype(c.g0), c.g(safe))  # the limit g(0+), also for 0/0 forms
            P[rows] = np.where(zero, dtype(c.phi0), c.phi(safe))
        else:
            W[rows] = c.g(Rb)
            if c.phi_over_g is not None:  # phi = c g (derive proved it): skip a second exp pass
                np.multiply(W[rows], dtype(c.phi_over_g), out=P[rows])
            else:
                P[rows] = c.phi(Rb)
    return R, W, P


def _fused_layer(c, Zl: np.ndarray, Zp: np.ndarray):
    """Lean route: W = g(R) and phi(R) (None when phi = c g) of one layer in one fused pass, R unstored."""
    fused, shape = c.fused, (Zl.shape[0], Zp.shape[0])
    if c.phi_over_g is not None:  # phi = c g: the backward pass forms G from W
        return fused.weights(Zl, Zp, np.empty(shape)), None
    return fused.layer(Zl, Zp, np.empty(shape), np.empty(shape))


def forward(net: Net | MLP, params: Params, X, Y, *, dtype=np.float64, lean: bool = False) -> Cache:
    """Forward pass a_1 = X, h_l = a_(l-1) W_l^T + b_l, a_l = f_l(h_l), keeping every intermediate.

    lean=True (what `gradients` and `hvp` use first) keeps only what the first-order backward pass
    reads, from fused kernel passes (float64 spatial nets whose kernel numexpr can express; else the
    careful route runs and the cache says lean=False). A lean pass raises `Singular` when a fused value
    is not finite, for the caller to take the careful route.

    Returns:
        `Cache` (shapes there).
    """
    dtype = engine_dtype(dtype)
    if net.spatial and (net.free or (net.penalties and not lean)):  # W = theta g(R), R kept for penalties
        return reference.forward(net, params, X, Y, dtype=dtype)
    Z, Wexp, b, X, Y = check_inputs(net, params, X, Y, dtype)
    c = compile_net(net, "numpy")
    lean = lean and net.spatial and dtype is np.float64 and c.fused is not None
    a: list[Any] = [X]
    h: list[Any] = [None]
    W: list[Any] = [None]  # W[0] is None: layer 1 has no weights
    R: list[Any] = [None]
    phiR: list[Any] = [None]
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        # Every layer's kernel first, then the products: the elementwise passes run on all cores
        # before OpenBLAS's worker threads, which keep spinning for a while after each product,
        # are woken (measured: a fused pass right after a product is ~1.5x slower).
        for l in range(1, net.L):
            if lean:
                assert Z is not None  # check_inputs gives every spatial net its Z
                (Wl, Pl), Rl = _fused_layer(c, Z[l], Z[l - 1]), None
            elif net.spatial:
                assert Z is not None
                Rl, Wl, Pl = _kernel_layer(net, c, Z[l], Z[l - 1], l, dtype)
            else:
                Rl, Wl, Pl = None, Wexp[l - 1], None
            W.append(Wl)
            R.append(Rl)
            phiR.append(Pl)
        for l in range(1, net.L):
            hl = a[-1] @ W[l].T
            # a NaN or inf weight reaches every row of h (0 * NaN is NaN): one B x N check, not N x N
            if lean and not np.all(np.isfinite(hl)):
                raise Singular
            if b is not None:
                hl = hl + b[l - 1]
            h.append(hl)
            a.append(np.asarray(c.f[l - 1](hl), dtype=dtype))
    return Cache(a, h, W, R, phiR, Z, b, X, Y, lean=lean)


def gradients(net: Net | MLP, params: Params, X, Y, *, dtype=np.float64, device="cpu") -> Gradients:
    """Loss and all first derivatives by manual backprop (the fast route of `reference.gradients`).

    Args:
        net: the network. params: coordinates (Net) or weights (MLP), and biases.
        X: inputs, B x N_1. Y: targets, B x N_L. dtype: np.float64 (default) or np.float32.
        device: "cpu" (or None); anything else is a `SpecError` (NumPy runs on the host).

    Returns:
        `Gradients` with loss, dW (layers 2..L), dZ (layers 1..L, spatial nets), db, dX, and
        delta, dA (per layer, index l-1 = layer l; delta[0] is None, dA[0] = dX).

    Raises:
        SpecError: bad shapes, NaN/Inf inputs, coincident nodes with a kernel whose g'(0) != 0.
    """
    check_device(device)
    dtype = engine_dtype(dtype)
    family = isinstance(net, Net) and (net.free or bool(net.penalties))
    if isinstance(net, Net) and family and (net.free or not penalty.fused_ok(net) or dtype is not np.float64):
        # Free amplitudes, and penalties numexpr cannot express, take the careful route: the reference's
        # layer-by-layer pass (R kept for the penalties); theta = 1 nets without penalties stay fused.
        return _careful_family(net, params, X, Y, dtype)
    try:
        # fast route: fused kernel layers (penalties: one fused pass more per layer); anything singular
        # sends the whole call the careful way
        cache = forward(net, params, X, Y, dtype=dtype, lean=True)
        if family and not cache.lean:
            return _careful_family(net, params, X, Y, dtype)
        return backward(net, cache)
    except Singular:
        if family:
            return _careful_family(net, params, X, Y, dtype)
        return backward(net, forward(net, params, X, Y, dtype=dtype))


def _careful_family(net, params, X, Y, dtype) -> Gradients:
    g = reference.gradients(net, params, X, Y, dtype=dtype)
    g.engine = "manual"
    return g


def backward(net: Net | MLP, cache: Cache) -> Gradients:
    """The backward pass over a forward cache (consumed: layer l's N x N arrays are overwritten).

    Per layer l = L..2: the delta recursion and dW_l = delta_l^T a_(l-1), then (spatial nets) the
    coordinate gradient by eq. (8), efficient form. A lean cache raises `Singular` when dZ is not
    finite (phi singular at coincident nodes), for `gradients` to take the careful route.
    """
    c = compile_net(net, "numpy")
    value, dA = loss_and_dA(net, cache.a[-1], cache.Y)
    L = net.L
    dW: list[Any] = [None] * (L - 1)
    db: list[Any] = [None] * (L - 1)
    deltas: list[Any] = [None] * L  # delta_l = dL/dh_l, index l-1 = layer l, kept for claims checking
    dAs: list[Any] = [None] * L  # dL/da_l, index l-1 = layer l; dAs[0] is dX
    dAs[L - 1] = dA
    dZ = [np.zeros_like(z) for z in cache.Z] if cache.Z is not None else None  # Z: spatial nets only
    spare = None  # lean route: the dead N x N buffer of layer l + 1's G, reused for dW_l
    # penalties reach the backward pass only on the lean route (else `gradients` takes the reference's)
    pens = cache.lean and isinstance(net, Net) and bool(net.penalties)
    with np.errstate(over="ignore", invalid="ignore"):
        for l in range(L - 1, 0, -1):  # index l is MATH.md's layer l + 1 (the comments say "layer l")
            # delta recursion: delta_l = dL/da_l * f_l'(h_l)
            delta = dA * c.df[l - 1](cache.h[l])
            deltas[l] = delta
            # dW_l = delta_l^T a_(l-1) (summed over the batch), db_l = colsum delta_l
            dW[l - 1] = _dW_into(delta, cache.a[l - 1], spare)
            spare = None
            db[l - 1] = delta.sum(axis=0)
            # dL/da_(l-1) = delta_l W_l (before W_l's buffer is reused below)
            dA = delta @ cache.W[l]
            dAs[l - 1] = dA
            if net.spatial:
                assert cache.Z is not None and dZ is not None  # check_inputs gives every spatial net its Z
                G = None
                if pens and isinstance(net, Net) and net.layer_penalties(l + 1):  # J = L + penalties: dW <- dJ/dW
                    k = None if cache.phiR[l] is not None else float(c.phi_over_g or 0.0)  # phi = k W when P is None
                    pv, G = penalty.lean_layer(net, l + 1, cache.Z[l], cache.Z[l - 1], cache.W[l], dW[l - 1], k, cache.phiR[l])
                    value = value + pv
                spare = _coordinate_gradient(c, cache, l, dW[l - 1], dZ, G)
            elif net.penalties:  # an MLP's penalties on W (numeric/manual/penalty.py): dJ/dW = dL/dW + P_w
                pv, Pw, _ = penalty.first_order(net, l + 1, None, cache.W[l])
                value = value + pv
                if Pw is not None:
                    dW[l - 1] += Pw
    if cache.lean and dZ is not None and not all(np.all(np.isfinite(z)) for z in dZ):
        raise Singular  # phi was singular somewhere (g'(0) != 0 at coincident nodes, 0/0 forms)
    return Gradients(loss=float(value), dW=dW, dZ=dZ, db=db if net.bias else None, dX=dA, engine="manual", delta=deltas, dA=dAs)


def _dW_into(delta: np.ndarray, a_prev: np.ndarray, spare: np.ndarray | None) -> np.ndarray:
    """dW_l = delta_l^T a_(l-1) (N_l x N_(l-1)), written into `spare` when it fits.

    Why: a reused buffer is already mapped; a fresh N x N result would page-fault on first touch.
    """
    shape = (delta.shape[1], a_prev.shape[1])
    out = spare if spare is not None and spare.shape == shape and spare.dtype == delta.dtype else None
    return np.matmul(delta.T, a_prev, out=out)


def _coordinate_gradient(c, cache: Cache, l: int, dWl: np.ndarray, dZ: list, G: np.ndarray | None = None) -> np.ndarray | None:
    """Eq. (8), efficient form, for layer l: adds its backward term to dZ_l and its forward term to dZ_(l-1).

    With G_l = dW_l * phi(R_l) (N_l x N_(l-1), `_G_over_k`):
        backward term for Z_l     = Z_l * rowsum(G_l)[:, None]     - G_l   @ Z_(l-1)
        forward  term for Z_(l-1) = Z_(l-1) * colsum(G_l)[:, None] - G_l^T @ Z_l
    Both as one product each against [Z, 1] (`with_ones`): G Z and G's row sums in one pass over G.

    Returns:
        G's buffer when the cache is lean (it lives in a forward buffer this call owns and is dead
        now: the next dW is written into it), else None. Layer l's cache entries are released.
    """
    # G given: the penalised layer's G_l (numeric/manual/penalty.py), already whole (k = 1)
    G, k = (G, 1.0) if G is not None else _G_over_k(c, cache, l, dWl)
    cache.W[l] = cache.R[l] = cache.phiR[l] = None
    assert cache.Z is not None  # spatial nets only
    if not G.flags.writeable:  # pair_terms zeroes the near pairs' entries in place
        G = G.copy()
    backward, forward = pair_terms(G, cache.Z[l], cache.Z[l - 1], k)
    dZ[l] += backward
    dZ[l - 1] += forward
    return G if cache.lean else None


def _G_over_k(c, cache: Cache, l: int, dWl: np.ndarray) -> tuple[np.ndarray, float]:
    """(G_l / k, k) with G_l = dW_l * phi(R_l), N_l x N_(l-1), written over a forward buffer of layer l.

    Why overwrite: the cache is this call's own and layer l's N x N arrays are dead after this, so
    the backward pass adds only dW_l per layer to the forward cache. Why k: when phi = k g (lean
    route, e.g. Gaussian: phi(R) is never stored) the pass is dW * W and k is applied to the
    N x (D+1) products instead: one plain single-threaded multiply, which right after a BLAS product
    beats a multithreaded pass that competes with OpenBLAS's still-spinning workers. Otherwise k = 1.
    """
    phi = cache.phiR[l]
    if phi is None:
        Wl = cache.W[l]
        return np.multiply(dWl, Wl, out=Wl), float(c.phi_over_g)
    # phi may be a read-only broadcast (constant phi): then a new array
    return np.multiply(dWl, phi, out=phi if phi.flags.writeable and phi.base is None else None), 1.0
