"""Pearlmutter's R-operator, written by hand over the NumPy engine's forward cache (`r_operator`).

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
    an MLP's penalties rho(w) (numeric/manual/penalty.py): R{dW} += sum_t c_t rho_t''(W) * V_l

Coincident nodes (r = 0): S = 0 there, and R{G}_ij only ever multiplies z_i - z'_j = 0 (eq. (8) is
sum_j G_ij (z_i - z'_j)), so psi is set to 0 at r = 0; the Hessian of g(|d|) there is phi(0) I, which
is continuous iff lim r phi'(r) = 0 (derive's kernel templates decide; otherwise a `SpecError`).
As in the gradient, nothing N x N x D is built: S is accumulated one dimension at a time.

`r_operator` takes V in the layout stated in numeric.manual.hvp (`derive.layout.split`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from derive import MLP, Net, SpecError, compile_net
from derive.layout import split as split_direction
from numeric.manual import penalty
from numeric.manual.common import Cache, Singular, hvp_coordinate_terms, loss_and_dA
from numeric.manual.loss_hessian import loss_hessian_times
from numeric.validate import coincidence_error

__all__ = ["r_operator"]


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
            if isinstance(net, MLP) and net.penalties:  # an MLP's penalties: R{c rho'(W)} = c rho''(W) V
                Pww = penalty.weight_curvature(net, l + 1, W[l])
                if Pww is not None:
                    RdW = RdW + Pww * Vm[l - 1]
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
