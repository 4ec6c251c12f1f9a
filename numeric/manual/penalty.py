"""The penalty terms of one kernel layer in the manual engine (MATH.md "The wider model family").

For layer l with distances R and weights W (N_l x N_(l-1)) and the terms t covering it (derive's
`Net.layer_penalties`: rho_t and c_t = scale, or scale / edges for a mean), one elementwise pass gives

    value  = sum_t c_t sum_ij rho_t(R, W)
    P_w    = sum_t c_t rho_t,w(R, W)          added to dL/dW: dJ/dW = dL/dW + P_w
    P_phi  = sum_t c_t rho_t,r(R, W) / R      added to G_l of eq. (8)'s efficient form

and for the R-operator (`second_order`) the derivatives of P_w and P_phi along R{r} = S / r, R{W}:

    R{P_w}   = P_phiw * S + P_ww * R{W},    R{P_phi} = P_psi * S + P_phiw * R{W}
    with P_phiw = sum c rho_rw / r, P_ww = sum c rho_ww, P_psi = sum c (d(rho_r / r)/dr) / r.

Coincident nodes (r = 0): the limits in w that derive computed are used where the penalty has a
gradient there (`Penalty.gradient_at_0`), else the penalty's one-line `SpecError`.

An MLP (derive.net.MLP) has no distances: its rho is a function of w alone, R is None, P_phi is None
and only value, P_w and P_ww exist (dJ/dW = dL/dW + P_w, R{P_w} = P_ww * R{W} with R{W} = V).
"""

from __future__ import annotations

import numpy as np

from derive import MLP, Net, SpecError
from derive.primitives.penalty import coincidence_error
from derive.primitives.penalty_code import callables, fused_source

__all__ = ["first_order", "second_order", "weight_curvature", "total", "fused_ok", "lean_layer"]


def _where(layer: int, zero: np.ndarray) -> str:
    i, j = np.argwhere(zero)[0]
    return f"node {int(i) + 1} of layer {layer} and node {int(j) + 1} of layer {layer - 1}"  # 1-based, as everywhere


def first_order(net: Net | MLP, layer: int, R: np.ndarray | None, W: np.ndarray):
    """(value, P_w, P_phi) of the terms covering `layer` (2..L), or (0.0, None, None) without any.
    An MLP passes R = None (rho in w alone) and gets P_phi None."""
    terms = net.layer_penalties(layer)
    if not terms:
        return 0.0, None, None
    if R is None:  # an MLP: rho(r, w) = rho(w), any r will do
        return _weights_only(terms, W)
    zero = R == 0
    some = bool(zero.any())
    safe = np.where(zero, 1, R) if some else R
    value, Pw, Pphi = 0.0, np.zeros_like(W), np.zeros_like(W)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for p, c in terms:
            f = callables(p, "numpy")
            rho, rw, phi = f["rho"](safe, W), f["rho_w"](safe, W), f["phi"](safe, W)
            if some:
                if not p.gradient_at_0:
                    raise coincidence_error(p, _where(layer, zero))
                rho = np.where(zero, f["rho0"](W), rho)
                rw = np.where(zero, f["rho_w0"](W), rw)
                phi = np.where(zero, f["phi0"](W), phi)
            value += c * float(np.sum(rho))
            Pw += c * rw
            Pphi += c * phi
    return value, Pw.astype(W.dtype, copy=False), Pphi.astype(W.dtype, copy=False)


def _weights_only(terms, W: np.ndarray):
    """(value, P_w, None) of an MLP's terms: sum_t c_t sum rho_t(W), sum_t c_t rho_t'(W)."""
    ones = np.ones_like(W)
    value, Pw = 0.0, np.zeros_like(W)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for p, c in terms:
            f = callables(p, "numpy")
            value += c * float(np.sum(f["rho"](ones, W)))
            Pw += c * f["rho_w"](ones, W)
    return value, Pw.astype(W.dtype, copy=False), None


def weight_curvature(net: MLP, layer: int, W: np.ndarray) -> np.ndarray | None:
    """P_ww = sum_t c_t rho_t''(W) of an MLP's terms covering `layer` (N_l x N_(l-1)), or None without
    any: the penalties' share of H v is P_ww * V_l (|w|'' = 0, as derive's Penalty.d states)."""
    terms = net.layer_penalties(layer)
    if not terms:
        return None
    ones, Pww = np.ones_like(W), np.zeros_like(W)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for p, c in terms:
            Pww += c * callables(p, "numpy")["rho_ww"](ones, W)
    return Pww.astype(W.dtype, copy=False)


def second_order(net: Net, layer: int, R: np.ndarray, W: np.ndarray):
    """(P_phiw, P_ww, P_psi) of the terms covering `layer`, or None without any.

    Raises:
        SpecError: nodes of `layer` and `layer`-1 coincide (the penalties' Hessian there is not
            taken by the manual engine; the symbolic and torch engines take it).
    """
    terms = net.layer_penalties(layer)
    if not terms:
        return None
    zero = R == 0
    if zero.any():
        raise SpecError(
            f"{_where(layer, zero)} coincide (r = 0) in a penalised layer: the manual H v "
            "does not take the penalty's Hessian there",
            "use the torch engine, or move the nodes apart",
        )
    Pphiw, Pww, Ppsi = np.zeros_like(W), np.zeros_like(W), np.zeros_like(W)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for p, c in terms:
            f = callables(p, "numpy")
            Pphiw += c * f["phi_w"](R, W)
            Pww += c * f["rho_ww"](R, W)
            Ppsi += c * f["psi"](R, W)
    return Pphiw, Pww, Ppsi


def total(net, cache) -> float:
    """sum of every penalty term over a forward cache (careful route: R and W kept); 0.0 without any."""
    if not net.penalties:
        return 0.0
    return sum(first_order(net, l + 1, cache.R[l] if net.spatial else None, cache.W[l])[0] for l in range(1, net.L))


def fused_ok(net: Net) -> bool:
    """Every penalty of the net has a numexpr form (derive.primitives.penalty_code.fused_source)."""
    return all(fused_source(p) is not None for p in net.penalties)


def lean_layer(
    net: Net, layer: int, Zl: np.ndarray, Zp: np.ndarray, W: np.ndarray, dW: np.ndarray, k: float | None, P: np.ndarray | None
):
    """The fast route's penalty for one layer (W = g(R) in a lean cache, R never stored): r^2 by one
    exact distance pass (derive.lambdify.squared_distances), then fused multithreaded numexpr passes:

        dW   <- dW + sum_t c_t rho_t,w           (in place; skipped when every rho_w is 0)
        G     = dW * phi(R) + sum_t c_t rho_t,r / R,  phi(R) = k W or P, written over W's buffer
        value = sum_t c_t sum rho_t              (before G when rho depends on w, else in r^2's buffer)

    Returns:
        (value, G). Non-finite values (coincident nodes) are left for the caller's Singular check.
    """
    import numexpr

    from derive.lambdify import squared_distances

    terms = net.layer_penalties(layer)
    dd = squared_distances(Zl, Zp, np.empty_like(W))
    names: dict = {"dd": dd, "W": W, "dW": dW, "k": np.float64(k if k is not None else 1.0), "P": P if P is not None else W}
    parts: dict[str, list[str]] = {"rho": [], "rho_w": [], "phi": []}
    on_w = False
    for t, (p, c) in enumerate(terms):
        names[f"c{t}"] = np.float64(c)
        src = fused_source(p)
        assert src is not None  # fused_ok(net) was checked
        on_w = on_w or "W" in src["rho"]
        for key in parts:
            if src[key]:
                parts[key].append(f"c{t}*({src[key]})")
    rho = " + ".join(parts["rho"])
    value = 0.0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if rho and on_w:  # W is overwritten by G below: the value first, into a scratch buffer
            value = float(numexpr.evaluate(rho, local_dict=names, out=np.empty_like(W)).sum())
        if parts["rho_w"]:
            numexpr.evaluate("dW + " + " + ".join(parts["rho_w"]), local_dict=names, out=dW)
        base = "dW*k*W" if P is None else "dW*P"
        extra = (" + " + " + ".join(parts["phi"])) if parts["phi"] else ""
        G = numexpr.evaluate(base + extra, local_dict=names, out=W if P is None else P)
        if rho and not on_w:  # rho of r alone: in place over r^2, which is dead now
            value = float(numexpr.evaluate(rho, local_dict=names, out=dd).sum())
    return value, G
