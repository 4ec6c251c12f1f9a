"""The reference engine: MATH.md "First order" as written, one layer at a time, no speed tricks.

Read this file to see what `numeric.manual.gradients` computes: `fast.py` computes the same things
arranged for speed, and tests/test_reference.py proves the two agree. As in micrograd, each layer's
forward step sits next to its backward step:

    kernel layer l (spatial nets)
        forward   r^l_ij = ||z^l_i - z^(l-1)_j||,  W^l_ij = g(r^l_ij)       `kernel_forward`
        backward  eq. (8), efficient form: dL/dZ from dL/dW                 `coordinate_gradient`
    dense layer l
        forward   h_l = a_(l-1) W_l^T + b_l,  a_l = f_l(h_l)                 `dense_forward`
        backward  delta recursion, dW_l = delta_l^T a_(l-1)                  `dense_backward`

Layers are numbered 1..L as in MATH.md (layer 1 is the input); Python lists are 0-based, so index
l-1 holds layer l. Shapes: X is B x N_1, Y is B x N_L, Z_l is N_l x D, W_l is N_l x N_(l-1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from derive import MLP, Gradients, Net, Params, compile_net
from numeric.manual import penalty
from numeric.manual.common import Cache, check_device, engine_dtype, loss_and_dA, pair_terms
from numeric.validate import check_inputs, check_theta, coincidence_error

__all__ = ["gradients", "forward", "distances", "kernel_forward", "coordinate_gradient", "dense_forward", "dense_backward"]


# --- kernel layer (spatial nets) ---------------------------------------------------------------


def distances(Zl: np.ndarray, Zp: np.ndarray) -> np.ndarray:
    """r_ij = ||z^l_i - z^(l-1)_j|| (N_l x N_(l-1)), summed one dimension at a time: exact near r = 0."""
    return np.sqrt(sum((Zl[:, None, d] - Zp[None, :, d]) ** 2 for d in range(Zl.shape[1])))


def kernel_forward(net: Net, c, Zl: np.ndarray, Zp: np.ndarray, layer: int, dtype):
    """Forward step of the kernel layer: R, W = g(R) and phi(R) = g'(R) / R (N_l x N_(l-1) each).

    Coincident nodes (r = 0): W = g(0+) and phi(0) = lim g'(r)/r = g''(0) (MATH.md "First order"),
    which exists iff g'(0) = 0; otherwise dL/dz is undefined there.

    Raises:
        SpecError: nodes of `layer` and `layer`-1 coincide and g'(0) != 0.
    """
    R = distances(Zl, Zp)
    zero = R == 0
    if zero.any() and not np.isfinite(c.phi0):
        i, j = np.argwhere(zero)[0]
        raise coincidence_error(net, layer, int(i), int(j))
    safe = np.where(zero, 1, R)  # any r > 0 where r = 0: the limit replaces the value below
    W = np.where(zero, c.g0, c.g(safe)).astype(dtype, copy=False)
    phiR = np.where(zero, c.phi0, c.phi(safe)).astype(dtype, copy=False)
    return R, W, phiR


def coordinate_gradient(dW: np.ndarray, phiR: np.ndarray, Zl: np.ndarray, Zp: np.ndarray, extra=None):
    """Backward step of the kernel layer: eq. (8) (MATH.md "First order", a in place of h), efficient form.

    Eq. (8):
        dL/dz^l_i = sum_j dL/dW^l_ij g'(r^l_ij) (z^l_i - z^(l-1)_j) / r^l_ij               (backward term, l >= 2)
                  + sum_k dL/dW^(l+1)_ki g'(r^(l+1)_ki) (z^l_i - z^(l+1)_k) / r^(l+1)_ki   (forward term, l < L)

    Efficient form: with phi(r) = g'(r)/r and G_l = dL/dW_l * phi(R_l) (elementwise, N_l x N_(l-1)),
    layer l's kernel gives the backward term of Z_l and the forward term of Z_(l-1):
        backward term for Z_l     = Z_l * rowsum(G_l)[:, None]     - G_l @ Z_(l-1)    (N_l x D)
        forward  term for Z_(l-1) = Z_(l-1) * colsum(G_l)[:, None] - G_l^T @ Z_l      (N_(l-1) x D)
    (sum_j G_ij (z_i - z'_j) without an N x N x D array of differences.)

    The wider model family (MATH.md): with W = theta * g(R) and penalties, G_l = (dJ/dr)_l / R_l =
    dJ/dW_l * theta_l * phi(R_l) + P_phi: the caller passes dJ/dW * theta as `dW` and P_phi as `extra`.

    Returns:
        (backward term for Z_l, forward term for Z_(l-1)).
    """
    G = dW * phiR
    if extra is not None:
        G = G + extra
    # the two lines above, with nearly coincident pairs taken from their own difference (`pair_terms`)
    return pair_terms(G, Zl, Zp)


# --- dense layer ---------------------------------------------------------------------------------


def dense_forward(a_prev: np.ndarray, W: np.ndarray, b, f, dtype):
    """Forward step of layer l: h_l = a_(l-1) W_l^T + b_l and a_l = f_l(h_l) (both B x N_l)."""
    h = a_prev @ W.T
    if b is not None:
        h = h + b
    return h, np.asarray(f(h), dtype=dtype)


def dense_backward(dA: np.ndarray, h: np.ndarray, a_prev: np.ndarray, W: np.ndarray, df):
    """Backward step of layer l (MATH.md "First order"): the delta recursion and dW = delta^T a.

        delta_l     = dL/da_l * f_l'(h_l)      B x N_l
        dL/dW_l     = delta_l^T a_(l-1)        N_l x N_(l-1), summed over the batch (a, not h)
        dL/db_l     = colsum(delta_l)          N_l
        dL/da_(l-1) = delta_l W_l              B x N_(l-1)

    dL/da_L comes from the loss; passing dL/da_(l-1) down to layer l-1 is the delta recursion
    delta_(l-1) = (delta_l W_l) * f_(l-1)'(h_(l-1)).

    Returns:
        (delta_l, dW_l, db_l, dL/da_(l-1)).
    """
    delta = dA * df(h)
    return delta, delta.T @ a_prev, delta.sum(axis=0), delta @ W


# --- the whole net -------------------------------------------------------------------------------


def forward(net: Net | MLP, params: Params, X, Y, *, dtype=np.float64) -> Cache:
    """Forward pass, layers 2..L: kernel layer (spatial nets) then dense layer; every intermediate kept.

    Returns:
        `Cache` with a, h, W, R, phiR (R and phiR None for an MLP), Z, b, X, Y.
    """
    dtype = engine_dtype(dtype)
    Z, W_mlp, b, X, Y = check_inputs(net, params, X, Y, dtype)
    theta = check_theta(net, params, dtype)
    c = compile_net(net, "numpy")
    cache = Cache(a=[X], h=[None], W=[None], R=[None], phiR=[None], Z=Z, b=b, X=X, Y=Y)
    if theta is not None:
        cache.K, cache.theta = [None], [None, *theta]
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        for l in range(1, net.L):  # index l is layer l + 1
            if net.spatial:
                assert Z is not None  # check_inputs gives every spatial net its Z
                R, W, phiR = kernel_forward(net, c, Z[l], Z[l - 1], l + 1, dtype)
                if theta is not None and cache.K is not None:  # free amplitudes: W = theta * g(R)
                    cache.K.append(W)
                    W = theta[l - 1] * W
            else:
                R, W, phiR = None, W_mlp[l - 1], None
            h, a = dense_forward(cache.a[-1], W, None if b is None else b[l - 1], c.f[l - 1], dtype)
            cache.R.append(R)
            cache.W.append(W)
            cache.phiR.append(phiR)
            cache.h.append(h)
            cache.a.append(a)
    return cache


def gradients(net: Net | MLP, params: Params, X, Y, *, dtype=np.float64, device="cpu") -> Gradients:
    """Loss and all first derivatives: forward, then layers L..2 backward (dense, then kernel).

    Args:
        net: spatial Net or ordinary MLP. params: coordinates (Net) or weights (MLP), and biases.
        X: inputs, B x N_1. Y: targets, B x N_L. dtype: np.float64 (default) or np.float32.
        device: "cpu" (or None); anything else is a `SpecError`.

    Returns:
        `Gradients` (engine "reference") with loss, dW, dZ (spatial nets), db, dX, and
        delta, dA (index l-1 = layer l; delta[0] is None, dA[0] = dX).

    Raises:
        SpecError: bad shapes, NaN/Inf inputs, coincident nodes with a kernel whose g'(0) != 0, a loss
            that is not finite at these predictions.
    """
    check_device(device)
    cache = forward(net, params, X, Y, dtype=dtype)
    c = compile_net(net, "numpy")
    L = net.L
    loss, dA = loss_and_dA(net, cache.a[-1], cache.Y)
    delta: list[Any] = [None] * L
    dAs: list[Any] = [None] * L
    dW: list[Any] = [None] * (L - 1)
    db: list[Any] = [None] * (L - 1)
    dZ = [np.zeros_like(z) for z in cache.Z] if cache.Z is not None else None
    dtheta: list[Any] | None = [None] * (L - 1) if cache.theta is not None else None
    dAs[L - 1] = dA
    with np.errstate(over="ignore", invalid="ignore"):
        for l in range(L - 1, 0, -1):  # index l is layer l + 1
            delta[l], dW[l - 1], db[l - 1], dA = dense_backward(dA, cache.h[l], cache.a[l - 1], cache.W[l], c.df[l - 1])
            dAs[l - 1] = dA
            if cache.Z is not None and dZ is not None:
                assert isinstance(net, Net)
                # penalties: J = L + value; dJ/dW = dL/dW + P_w; G gains P_phi (numeric/manual/penalty.py)
                value, Pw, Pphi = penalty.first_order(net, l + 1, cache.R[l], cache.W[l])
                loss += value
                if Pw is not None:
                    dW[l - 1] = dW[l - 1] + Pw
                amp = dW[l - 1]
                if dtheta is not None and cache.K is not None and cache.theta is not None:
                    dtheta[l - 1] = dW[l - 1] * cache.K[l]  # dJ/dtheta = dJ/dW * g(R)
                    amp = dW[l - 1] * cache.theta[l]  # dJ/dr = dJ/dW theta g'(r) + P_r
                backward_term, forward_term = coordinate_gradient(amp, cache.phiR[l], cache.Z[l], cache.Z[l - 1], Pphi)
                dZ[l] += backward_term
                dZ[l - 1] += forward_term
            elif net.penalties:  # an MLP's penalties on W: J = L + value, dJ/dW = dL/dW + P_w
                value, Pw, _ = penalty.first_order(net, l + 1, None, cache.W[l])
                loss += value
                if Pw is not None:
                    dW[l - 1] = dW[l - 1] + Pw
    return Gradients(
        loss=float(loss), dW=dW, dZ=dZ, db=db if net.bias else None, dX=dA, engine="reference", delta=delta, dA=dAs, dtheta=dtheta
    )
