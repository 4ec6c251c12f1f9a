"""NumPy manual-backprop engine: forward cache, delta recursion, dW and dZ by eq. (8).

Each layer's backward step sits beside the forward quantities it reads. The coordinate gradient uses
the efficient form of MATH.md: with phi(r) = g'(r)/r and G_l = dW_l * phi(R_l) (N_l x N_(l-1)),

    backward term for Z_l     = Z_l * rowsum(G_l)[:, None]     - G_l   @ Z_(l-1)
    forward  term for Z_(l-1) = Z_(l-1) * colsum(G_l)[:, None] - G_l^T @ Z_l

so no N x N x D array is ever built (distances are accumulated one dimension at a time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from derive import MLP, Gradients, Net, Params, SpecError, compile_net

from .validate import check_inputs, coincidence_error

__all__ = ["Cache", "forward", "gradients", "distances", "loss_and_dA"]


@dataclass
class Cache:
    """Every forward intermediate, layer index l-1 for layer l (index 0 = layer 1).

    Attributes:
        a: activations, B x N_l (a[0] = X).
        h: pre-activations, B x N_l (h[0] is None).
        W: weights N_l x N_(l-1) (W[0] is None).
        R: distances N_l x N_(l-1) (spatial; R[0] is None).
        phiR: phi(R) with phi(0) = lim g'(r)/r at coincident nodes (spatial; phiR[0] is None).
        Z, b, X, Y: the validated inputs.
    """

    a: list
    h: list
    W: list
    R: list
    phiR: list
    Z: list | None
    b: list | None
    X: np.ndarray
    Y: np.ndarray
    lean: bool = False  # fused first-order cache: R is None and phi(R) is None when phi = c g


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
    """R, W = g(R) and phi(R) of one layer (N_l x N_(l-1) each), evaluated in row blocks.

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


def _fused(net: Net | MLP, c, dtype):
    """The fused kernel evaluator for this net (float64 spatial nets whose kernel numexpr can
    express), else None."""
    return c.fused if net.spatial and dtype is np.float64 else None


def _with_ones(A: np.ndarray) -> np.ndarray:
    """[A, 1] (rows x (cols+1)): G [A, 1] gives G A and G's row sums in one pass over G."""
    return np.hstack([A, np.ones((A.shape[0], 1), dtype=A.dtype)])


def forward(net: Net | MLP, params: Params, X, Y, dtype=np.float64, lean: bool = False) -> Cache:
    """Forward pass a_1 = X, h_l = a_(l-1) W_l^T + b_l, a_l = f_l(h_l), keeping every intermediate.

    lean=True (what `gradients` uses) keeps only what the first-order backward pass reads: the
    layer weights W come from one fused pass over the coordinates (derive.fused), R is not stored
    (None) and phi(R) is None when phi = c g (the backward pass forms G from W). A lean pass
    raises `_Singular` when a fused value is not finite (coincident nodes, 0/0 forms), for the
    caller to take the careful route.
    """
    Z, Wexp, b, X, Y = check_inputs(net, params, X, Y, dtype)
    c = compile_net(net, "numpy")
    fused = _fused(net, c, dtype) if lean else None
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
            if fused is not None:
                shape = (Z[l].shape[0], Z[l - 1].shape[0])
                if c.phi_over_g is not None:  # phi = c g: the backward pass forms G from W
                    Wl, Pl = fused.weights(Z[l], Z[l - 1], np.empty(shape)), None
                else:
                    Wl, Pl = fused.layer(Z[l], Z[l - 1], np.empty(shape), np.empty(shape))
                Rl = None
            elif net.spatial:
                Rl, Wl, Pl = _kernel_layer(net, c, Z[l], Z[l - 1], l, dtype)
            else:
                Rl, Wl, Pl = None, Wexp[l - 1], None
            W.append(Wl)
            R.append(Rl)
            phiR.append(Pl)
        for l in range(1, net.L):
            hl = a[-1] @ W[l].T
            # a NaN or inf weight reaches every row of h (0 * NaN is NaN): one B x N check, not N x N
            if fused is not None and not np.all(np.isfinite(hl)):
                raise _Singular
            if b is not None:
                hl = hl + b[l - 1]
            h.append(hl)
            a.append(np.asarray(c.f[l - 1](hl), dtype=dtype))
    return Cache(a, h, W, R, phiR, Z, b, X, Y, lean=fused is not None)


class _Singular(Exception):
    """A fused (lean) pass met a non-finite kernel value: redo the layer the careful way."""


def loss_and_dA(net: Net | MLP, aL: np.ndarray, Y: np.ndarray):
    """Loss value and dL/da_L (B x N_L) from the compiled row loss and its gradient."""
    c = compile_net(net, "numpy")
    B, K = aL.shape
    div = c.divisor(B, K)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if c.loss_terms is not None:  # separable loss: whole B x K arrays, no per-column calls
            value = np.sum(c.loss_terms(aL, Y)) / div
            assert c.loss_terms_grad is not None  # compile_net sets the separable loss_terms* together
            dA = np.asarray(c.loss_terms_grad(aL, Y), dtype=aL.dtype) / div
        else:
            value = np.sum(np.broadcast_to(c.loss_rows(*aL.T, *Y.T), (B,))) / div
            cols = c.loss_grad_rows(*aL.T, *Y.T)
            dA = np.stack([np.broadcast_to(np.asarray(col, dtype=aL.dtype), (B,)) for col in cols], 1) / div
    if not np.isfinite(value) or not np.all(np.isfinite(dA)):
        raise SpecError(f"loss {net.loss!r} is not finite at these predictions (e.g. log(0) or overflow)",
                        "check the targets' range against the output activation (bce needs outputs in (0, 1))")
    return value, dA.astype(aL.dtype, copy=False)


def gradients(net: Net | MLP, params: Params, X, Y, dtype=np.float64) -> Gradients:
    """Loss and all first derivatives by manual backprop.

    Args:
        net: the network. params: coordinates (Net) or weights (MLP), and biases.
        X: inputs, B x N_1. Y: targets, B x N_L. dtype: np.float64 (default) or np.float32.

    Returns:
        `Gradients` with loss, dW (layers 2..L), dZ (layers 1..L, spatial nets), db, dX.

    Raises:
        SpecError: bad shapes, NaN/Inf inputs, coincident nodes with a kernel whose g'(0) != 0.
    """
    dtype = np.dtype(dtype).type
    try:
        # fast route: fused kernel layers; anything singular sends the whole call the careful way
        return _backward(net, forward(net, params, X, Y, dtype, lean=True), dtype)
    except _Singular:
        return _backward(net, forward(net, params, X, Y, dtype), dtype)


def _backward(net: Net | MLP, cache: Cache, dtype) -> Gradients:
    c = compile_net(net, "numpy")
    value, dA = loss_and_dA(net, cache.a[-1], cache.Y)
    L = net.L
    dW: list[Any] = [None] * (L - 1)
    db: list[Any] = [None] * (L - 1)
    # delta_l = dL/dh_l and dL/da_l per layer (index 0 = layer 1), kept for claims checking
    deltas, dAs = [None] * L, [None] * L
    dAs[L - 1] = dA
    dZ = [np.zeros_like(z) for z in cache.Z] if cache.Z is not None else None  # Z: spatial nets only
    spare = None  # lean route: the dead N x N buffer of layer l + 1's G, reused for dW_l
    with np.errstate(over="ignore", invalid="ignore"):
        for l in range(L - 1, 0, -1):
            # delta_l = dL/da_l * f_l'(h_l); dW_l = delta_l^T a_(l-1); dL/da_(l-1) = delta_l W_l
            delta = dA * c.df[l - 1](cache.h[l])
            deltas[l] = delta
            shape = (delta.shape[1], cache.a[l - 1].shape[1])
            # a reused buffer is already mapped: a fresh N x N result would page-fault on first touch
            out = spare if spare is not None and spare.shape == shape and spare.dtype == delta.dtype else None
            dW[l - 1] = np.matmul(delta.T, cache.a[l - 1], out=out)
            spare = None
            db[l - 1] = delta.sum(axis=0)
            dA = delta @ cache.W[l]
            dAs[l - 1] = dA
            if net.spatial:
                assert cache.Z is not None and dZ is not None  # check_inputs gives every spatial net its Z
                G, k = _G(c, cache, l, dW[l - 1])  # the true G is k * G
                cache.W[l] = cache.R[l] = cache.phiR[l] = None
                Zl, Zp = cache.Z[l], cache.Z[l - 1]
                below = G @ _with_ones(Zp)  # N_l x (D+1): G Z_(l-1) | rowsum(G)
                above = G.T @ _with_ones(Zl)  # N_(l-1) x (D+1): G^T Z_l | colsum(G)
                if k != 1.0:
                    below *= k
                    above *= k
                D = Zl.shape[1]
                dZ[l] += Zl * below[:, D:] - below[:, :D]
                dZ[l - 1] += Zp * above[:, D:] - above[:, :D]
                if cache.lean:  # G lives in a forward buffer this call owns (W's or phi's): now dead
                    spare = G
    if cache.lean and dZ is not None and not all(np.all(np.isfinite(z)) for z in dZ):
        raise _Singular  # phi was singular somewhere (g'(0) != 0 at coincident nodes, 0/0 forms)
    return Gradients(loss=float(value), dW=dW, dZ=dZ, db=db if net.bias else None, dX=dA, engine="manual",
                     extra={"delta": deltas, "dA": dAs})


def _G(c, cache: Cache, l: int, dWl: np.ndarray) -> tuple[np.ndarray, float]:
    """(G_l / k, k) with G_l = dW_l * phi(R_l), N_l x N_(l-1), written over a forward buffer of layer l.

    Why overwrite: the cache is this call's own and layer l's N x N arrays are dead after this, so
    the backward pass adds only dW_l per layer to the forward cache. When phi = k g (lean route,
    Gaussian) the pass is dW * W and k is applied to the N x (D+1) products instead: one plain
    single-threaded multiply, which right after a BLAS product beats a multithreaded pass that
    competes with OpenBLAS's still-spinning workers.
    """
    phi = cache.phiR[l]
    if phi is None:
        Wl = cache.W[l]
        return np.multiply(dWl, Wl, out=Wl), float(c.phi_over_g)
    # phi may be a read-only broadcast (constant phi): then a new array
    return np.multiply(dWl, phi, out=phi if phi.flags.writeable and phi.base is None else None), 1.0


from .hvp import hessian, hvp  # noqa: E402,F401  (second order lives in numeric/hvp.py)
