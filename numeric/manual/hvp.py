"""Manual Hessian-vector products: Pearlmutter's R-operator, written by hand over the NumPy engine.

R{x} = d/de x(theta + e v) at e = 0. One forward pass carries R{W}, R{h}, R{a} beside W, h, a; one
backward pass carries R{delta}, R{dW}, R{dZ} beside delta, dW, dZ (MATH.md "Second order"):

    forward (l = 2..L)
        S_ij     = <z_i - z'_j, v_i - v'_j>              (z' = Z_(l-1), v' = V_(l-1))
        R{W}     = phi(R) * S                            (R{r} = S / r, g'(r) R{r} = phi S)
        R{h}     = R{a_(l-1)} W^T + a_(l-1) R{W}^T + R{b}
        R{a}     = f'(h) * R{h}
    backward (l = L..2), with gA_l = dL/da_l, gA_L = loss gradient / divisor
        R{gA_L}  = (per-row loss Hessian, K x K) R{a_L} / divisor
        R{delta} = R{gA} * f'(h) + gA * f''(h) * R{h}
        R{dW}    = R{delta}^T a_(l-1) + delta^T R{a_(l-1)},  R{db} = colsum R{delta}
        R{gA_(l-1)} = R{delta} W + delta R{W}
        G = dW * phi(R),  R{G} = R{dW} * phi(R) + dW * psi(R) * S,   psi(r) = phi'(r) / r
        R{dZ_l}     += V_l rowsum(G) + Z_l rowsum(R{G}) - R{G} Z_(l-1) - G V_(l-1)
        R{dZ_(l-1)} += V_(l-1) colsum(G) + Z_(l-1) colsum(R{G}) - R{G}^T Z_l - G^T V_l

Coincident nodes (r = 0): S = 0 there, and R{G}_ij only ever multiplies z_i - z'_j = 0 (eq. (8) is
sum_j G_ij (z_i - z'_j)), so psi is set to 0 at r = 0; the Hessian of g(|d|) there is phi(0) I, which
is continuous iff lim r phi'(r) = 0 (derive's kernel templates decide; otherwise a `SpecError`).
As in the gradient, nothing N x N x D is built: S is accumulated one dimension at a time.

Layout of V (numeric/flat.py, MATH.md "Second order"): a list of arrays, the parameter blocks in
order — spatial Net: Z_1..Z_L (N_l x D) then, if the net has biases, b_2..b_L; MLP: W_2..W_L then
b_2..b_L. Passing only the first block group (coordinates, or weights) means a zero bias direction,
and only that group is returned (this is `derive.symbolic.hvp`'s convention). A flat 1-D vector of the
full length n is also accepted and a flat vector is returned (`derive.layout.split`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from derive import MLP, Net, Params, SpecError, compile_net
from derive.layout import n_main
from derive.layout import split as split_direction

from ..flat import shapes as flat_shapes
from ..validate import coincidence_error
from . import penalty, reference
from .common import Cache, Singular, check_device, engine_dtype, hvp_coordinate_terms, loss_and_dA
from .fast import forward

__all__ = ["hvp", "hessian", "loss_hessian_times", "r_operator"]

_PATTERNS: dict[int, tuple[Any, list[tuple[int, int]]]] = {}


def loss_hessian_times(net: Net | MLP, aL: np.ndarray, Y: np.ndarray, U: np.ndarray) -> np.ndarray:
    """(d^2 L / d a_L^2) U for predictions aL, targets Y and a direction U (all B x K).

    Separable losses (row = sum_k t(a_k, y_k)) use derive's `loss_terms_hess` (t'' on B x K arrays).
    Otherwise (softmax_ce) the per-row loss Hessian (K x K) comes from `loss_hess_rows`; entries that
    are the exact constant 0 are found once per compiled loss and skipped.
    """
    c = compile_net(net, "numpy")
    B, K = aL.shape
    terms_hess = getattr(c, "loss_terms_hess", None)
    if terms_hess is not None:  # separable loss: the Hessian is diagonal, t''(a, y) elementwise
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            out = np.asarray(terms_hess(aL, Y), dtype=U.dtype) * U
        if not np.all(np.isfinite(out)):
            raise SpecError(
                f"the Hessian of loss {net.loss!r} is not finite at these predictions",
                "check the targets' range against the output activation",
            )
        return out / c.divisor(B, K)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        H = c.loss_hess_rows(*aL.T, *Y.T)
    key = id(c.loss_hess_rows)
    cached = _PATTERNS.get(key)
    if cached is None or cached[0] is not c.loss_hess_rows:
        pattern = [
            (i, j) for i in range(K) for j in range(K) if not (np.isscalar(H[i][j]) and H[i][j] == 0 and isinstance(H[i][j], int))
        ]
        cached = (c.loss_hess_rows, pattern)
        _PATTERNS[key] = cached
    nz: list[tuple[int, int]] = cached[1]
    out = np.zeros_like(U)
    if not nz:
        pass
    elif all(i == j for i, j in nz):
        idx = [i for i, _ in nz]
        diag = np.stack([np.broadcast_to(np.asarray(H[i][i], dtype=U.dtype), (B,)) for i in idx], axis=1)
        out[:, idx] = diag * U[:, idx]
    else:
        for i, j in nz:
            out[:, i] += np.asarray(H[i][j], dtype=U.dtype) * U[:, j]
    div = c.divisor(B, K)
    if not np.all(np.isfinite(out)):
        raise SpecError(
            f"the Hessian of loss {net.loss!r} is not finite at these predictions",
            "check the targets' range against the output activation",
        )
    return out / div


def _psi(c, Rl: np.ndarray, zero: np.ndarray | None, dtype) -> np.ndarray:
    """psi(r) = phi'(r) / r, with 0 at r = 0 (it only multiplies S = 0 there); `zero` is the mask of
    coincident pairs, or None when there are none."""
    if zero is not None:
        safe = np.where(zero, 1, Rl)
        return np.where(zero, 0, c.dphi(safe) / safe).astype(dtype, copy=False)
    return (c.dphi(Rl) / Rl).astype(dtype, copy=False)


def _coincident_masks(net: Net, cache) -> list:
    """Per layer, the mask of coincident pairs (None if there are none). At r = 0 the Hessian needs
    lim r phi'(r) = 0 beyond g'(0) = 0 (which `forward` checked); derive decides that limit exactly."""
    masks = [None]
    for l in range(1, net.L):
        zero = cache.R[l] == 0
        if zero.any() and not net.g.hessian_at_0:  # derive's property of the kernel, decided once
            i, j = np.argwhere(zero)[0]
            raise coincidence_error(net, l + 1, int(i), int(j), order=2)
        masks.append(zero if zero.any() else None)
    return masks


def _S(Zl, Zp, Vl, Vp, dtype):
    """S_ij = <Zl_i - Zp_j, Vl_i - Vp_j> (N_l x N_(l-1)), one dimension at a time (never N x N x D)."""
    shape = (Zl.shape[0], Zp.shape[0])
    S, dz, dv = np.zeros(shape, dtype=dtype), np.empty(shape, dtype=dtype), np.empty(shape, dtype=dtype)
    for d in range(Zl.shape[1]):  # in place: N x N temporaries are reused, not reallocated per op
        np.subtract(Zl[:, d, None], Zp[None, :, d], out=dz)
        np.subtract(Vl[:, d, None], Vp[None, :, d], out=dv)
        dz *= dv
        S += dz
    return S


def hvp(net: Net | MLP, params: Params, X, Y, V, *, dtype=np.float64, device="cpu"):
    """H v by the R-operator (forward-over-reverse by hand), without forming H.

    Args:
        net: spatial Net or ordinary MLP. params: Z (Net) or W (MLP), and b.
        X: B x N_1. Y: B x N_L.
        V: the direction, in the layout of the module docstring: list of Z-shaped (or W-shaped)
            arrays, optionally followed by bias vectors; or a flat vector of length n.
        dtype: np.float64 (default) or np.float32.
        device: "cpu" (or None); anything else is a `SpecError` (NumPy runs on the host).

    Returns:
        H v, shaped like V (list of arrays, or a flat vector).

    Raises:
        SpecError: bad shapes, NaN/Inf, coincident nodes where the Hessian is undefined.
    """
    check_device(device)
    dtype = engine_dtype(dtype)
    if net.spatial and (net.free or net.penalties):  # the wider model family: the careful route only
        return r_operator(net, reference.forward(net, params, X, Y, dtype=dtype), V)
    try:
        # fast route: fused kernel layers (derive.fused); anything singular goes the careful way
        return r_operator(net, forward(net, params, X, Y, dtype=dtype, lean=True), V)
    except Singular:
        return r_operator(net, forward(net, params, X, Y, dtype=dtype), V)


def _S_text(dim: int) -> str:
    return " + ".join(f"(a{d} - b{d})*(u{d} - w{d})" for d in range(dim))


def _lean_S(Zl, Zp, Vl, Vp):
    """S_ij = <Zl_i - Zp_j, Vl_i - Vp_j> in one fused multithreaded pass (numexpr)."""
    import numexpr

    D = Zl.shape[1]
    names = {f"a{d}": Zl[:, d : d + 1] for d in range(D)} | {f"b{d}": Zp[None, :, d] for d in range(D)}
    names |= {f"u{d}": Vl[:, d : d + 1] for d in range(D)} | {f"w{d}": Vp[None, :, d] for d in range(D)}
    return numexpr.evaluate(_S_text(D), local_dict=names)


def r_operator(net: Net | MLP, cache: Cache, V):
    """H v over a forward cache of `fast.forward` (consumed), in the cache's dtype.

    The cache is lean (fused: W only, phi and psi as fused passes or multiples of W when phi = c g,
    so psi = c^2 g) or careful (R, W, phi(R) kept; psi from R). A lean cache raises `Singular` where
    a value is not finite, for `hvp` to take the careful route.
    """
    import numexpr

    dtype = cache.X.dtype.type
    c = compile_net(net, "numpy")
    Vm, Vb, repack = split_direction(net, V, dtype)
    L, spatial = net.L, net.spatial
    # free amplitudes: the main group is Z_1..Z_L then theta_2..theta_L (derive.layout)
    Vth: list[Any] = [None, *Vm[L:]] if cache.theta is not None else []
    RK: list[Any] = [None] * L  # R{g(R)} = phi(R) S (free amplitudes)
    Z: list[Any] = cache.Z or []
    lean = cache.lean
    fk = c.fused if lean else None
    k = None if not lean or c.phi_over_g is None else np.float64(c.phi_over_g)
    zeros = _coincident_masks(net, cache) if isinstance(net, Net) and not lean else []
    a, h, W = cache.a, cache.h, cache.W
    # --- forward R pass -------------------------------------------------------------------------
    S: list[Any] = [None] * L
    RW: list[Any] = [None] * L
    dfh: list[Any] = [None] * L
    Rh: list[Any] = [None] * L
    Ra: list[Any] = [None] * L
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        for l in range(1, L):
            if spatial and lean:
                S[l] = _lean_S(Z[l], Z[l - 1], Vm[l], Vm[l - 1])
                names = {"S": S[l], "W": W[l], "P": cache.phiR[l], "k": k}
                RW[l] = numexpr.evaluate("k*W*S" if k is not None else "P*S", local_dict=names)
            elif spatial:
                S[l] = _S(Z[l], Z[l - 1], Vm[l], Vm[l - 1], dtype)
                RW[l] = cache.phiR[l] * S[l]
                if cache.theta is not None and cache.K is not None:  # W = theta K: R{W} = theta R{K} + R{theta} K
                    RK[l] = RW[l]
                    RW[l] = cache.theta[l] * RK[l] + Vth[l] * cache.K[l]
            else:
                RW[l] = Vm[l - 1]
            Rhl = a[l - 1] @ RW[l].T
            if Ra[l - 1] is not None:  # R{a_1} = R{X} = 0: the inputs are data
                Rhl += Ra[l - 1] @ W[l].T
            if Vb is not None:
                Rhl += Vb[l - 1]
            if lean and not np.all(np.isfinite(Rhl)):  # phi(0) singular (0/0 form): careful route
                raise Singular
            dfh[l] = np.asarray(c.df[l - 1](h[l]), dtype=dtype)
            Rh[l] = Rhl
            Ra[l] = dfh[l] * Rhl
        # --- backward pass with its R twin ------------------------------------------------------
        _, gA = loss_and_dA(net, a[-1], cache.Y)
        RgA = loss_hessian_times(net, a[-1], cache.Y, Ra[-1])
        HZ: list[Any] = [np.zeros_like(z) for z in Z]
        Hth: list[Any] = [None] * (L - 1)
        HW: list[Any] = [None] * (L - 1)
        Hb: list[Any] = [None] * (L - 1)
        for l in range(L - 1, 0, -1):
            delta = gA * dfh[l]
            Rdelta = RgA * dfh[l] + gA * np.asarray(c.d2f[l - 1](h[l]), dtype=dtype) * Rh[l]
            RdW = Rdelta.T @ a[l - 1]
            if Ra[l - 1] is not None:
                RdW += delta.T @ Ra[l - 1]
            HW[l - 1] = RdW
            Hb[l - 1] = Rdelta.sum(axis=0)
            if l > 1:  # dL/dX is not a parameter: layer 2 needs no gA_1
                gA, RgA = delta @ W[l], Rdelta @ W[l] + delta @ RW[l]
            if spatial and lean:
                dW = delta.T @ a[l - 1]
                # R{G} = R{dW} phi + dW psi S; with phi = k W, psi = k^2 W (one pass, into S's buffer)
                if k is not None:
                    names = {"k": k, "W": W[l], "dW": dW, "RdW": RdW, "S": S[l]}
                    RG = numexpr.evaluate("k*W*(RdW + k*dW*S)", local_dict=names, out=S[l])
                    G = numexpr.evaluate("k*dW*W", local_dict=names, out=dW)
                else:
                    assert fk is not None  # a lean cache exists only when the kernel has a fused form
                    Psi = fk.psi_of(Z[l], Z[l - 1], np.empty_like(dW))
                    names = {"P": cache.phiR[l], "Psi": Psi, "dW": dW, "RdW": RdW, "S": S[l]}
                    RG = numexpr.evaluate("RdW*P + dW*Psi*S", local_dict=names, out=S[l])
                    G = numexpr.evaluate("dW*P", local_dict=names, out=dW)
                W[l] = S[l] = RW[l] = None
                hvp_coordinate_terms(HZ[l], HZ[l - 1], G, RG, Z[l], Z[l - 1], Vm[l], Vm[l - 1])
            elif isinstance(net, Net) and (net.free or net.penalties):
                # J = L + penalties, W = theta K (numeric/manual/penalty.py states the R{} of P_w, P_phi)
                dW = delta.T @ a[l - 1]
                phi = cache.phiR[l]
                _, Pw, Pphi = penalty.first_order(net, l + 1, cache.R[l], W[l])
                pen2 = penalty.second_order(net, l + 1, cache.R[l], W[l])
                if Pw is not None and pen2 is not None:
                    dW = dW + Pw
                    RdW = RdW + pen2[0] * S[l] + pen2[1] * RW[l]
                amp, Ramp = dW, RdW
                if cache.theta is not None and cache.K is not None:
                    Hth[l - 1] = RdW * cache.K[l] + dW * RK[l]  # R{dtheta}, dtheta = dJ/dW * K
                    amp, Ramp = dW * cache.theta[l], RdW * cache.theta[l] + dW * Vth[l]
                G = amp * phi
                RG = _psi(c, cache.R[l], zeros[l], dtype) * amp * S[l] + Ramp * phi
                if Pphi is not None and pen2 is not None:
                    G = G + Pphi
                    RG = RG + pen2[2] * S[l] + pen2[0] * RW[l]
                hvp_coordinate_terms(HZ[l], HZ[l - 1], G, RG, Z[l], Z[l - 1], Vm[l], Vm[l - 1])
            elif spatial:
                dW = delta.T @ a[l - 1]
                phi = cache.phiR[l]
                G = dW * phi
                RG = _psi(c, cache.R[l], zeros[l], dtype)
                RG *= dW
                RG *= S[l]
                RdW *= phi  # HW[l - 1] is not needed for a Net: reuse R{dW}'s buffer
                RG += RdW
                hvp_coordinate_terms(HZ[l], HZ[l - 1], G, RG, Z[l], Z[l - 1], Vm[l], Vm[l - 1])
    out = repack((HZ + (Hth if cache.theta is not None else [])) if spatial else HW, Hb)
    flat = np.concatenate([np.asarray(o).reshape(-1) for o in out]) if isinstance(out, list) else out
    if not np.all(np.isfinite(flat)):
        if lean:
            raise Singular  # psi or phi singular at coincident nodes: the careful route decides
        raise SpecError(
            "H v is not finite at these parameters (overflow in the activations or loss)", "rescale the inputs or coordinates"
        )
    return out


def hessian(net: Net | MLP, params: Params, X, Y, *, wrt: str | None = None, dtype=np.float64, device="cpu") -> np.ndarray:
    """The full Hessian by stacking H e_k (small nets only: n R-operator passes).

    Args:
        wrt: None (default) = all parameters in numeric.flat's layout (coordinates or weights, then
            biases); "Z" (spatial) or "W" (MLP) = that block group only, no biases.
        dtype, device: as `hvp`.

    Returns:
        n x n float64 array (H[:, k] = H e_k, computed in `dtype`; symmetric up to rounding).
    """
    check_device(device)
    dtype = engine_dtype(dtype)
    blocks = flat_shapes(net)
    main = n_main(net)
    if wrt is None:
        use = blocks
    elif wrt == ("Z" if net.spatial else "W"):
        use = blocks[:main]
    else:
        raise SpecError(
            f"wrt={wrt!r} does not fit {'a spatial Net' if net.spatial else 'an MLP'}",
            f"use wrt=None or wrt={'Z' if net.spatial else 'W'!r}",
        )
    sizes = [int(np.prod(s)) for _, _, s in use]
    n = sum(sizes)
    H = np.zeros((n, n))
    for k in range(n):
        e = np.zeros(n, dtype=dtype)
        e[k] = 1
        parts, pos = [], 0
        for (_, _, s), size in zip(use, sizes, strict=True):
            parts.append(e[pos : pos + size].reshape(s))
            pos += size
        col = hvp(net, params, X, Y, parts, dtype=dtype, device=device)
        H[:, k] = np.concatenate([np.asarray(cpart).reshape(-1) for cpart in col])
    return H
