"""Common mistakes, computed as exact variants of the true derivatives (for check-grad's diagnosis).

A user's gradient that matches one of these (and not the truth) names its mistake:

* `eq8_terms`: the two terms of eq. (8) separately (MATH.md, efficient form), from the true dW_l and
  phi(R_l) = g'(R_l)/R_l (phi(0) = lim g'(r)/r at coincident nodes), with G_l = dW_l * phi(R_l):
  backward term of Z_l = Z_l * rowsum(G_l) - G_l Z_(l-1); forward term of Z_(l-1) = Z_(l-1) * colsum(G_l) - G_l^T Z_l.
  dZ = backward + forward; "eq. (8) without its forward term" is `backward` alone.
* `pre_activation`: the note's eq. (4)/(8) as printed, with h in place of a: dW_l = delta_l^T h_(l-1)
  (h_1 = X), and dZ from eq. (8) with that dW.
* `edge_term`: one edge's contribution dW_ij theta_ij phi(r_ij) (z_i - z_j) to dL/dz_i (the scale of an error
  that grows as the two nodes approach).
"""

from __future__ import annotations

import numpy as np

from derive import MLP, Net, Params, compile_net

__all__ = ["phi_matrix", "eq8_terms", "pre_activation", "edge_term"]


def phi_matrix(net: Net, Zl: np.ndarray, Zp: np.ndarray) -> np.ndarray:
    """phi(R) (N_l x N_(l-1)) with R_ij = ||z^l_i - z^(l-1)_j|| and phi(0) = lim g'(r)/r."""
    c = compile_net(net)
    assert c.phi is not None  # a spatial net's kernel is compiled
    R = np.sqrt(((Zl[:, None, :] - Zp[None, :, :]) ** 2).sum(-1))  # small nets only: N x N x D is fine here
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(R == 0, c.phi0, np.broadcast_to(c.phi(np.where(R == 0, 1.0, R)), R.shape))


def eq8_terms(net: Net, Z: list, dW: list) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(backward, forward): eq. (8)'s two terms per layer 1..L (N_l x D each) from dW (layers 2..L)."""
    Z = [np.asarray(z, dtype=np.float64) for z in Z]
    back = [np.zeros_like(z) for z in Z]
    fwd = [np.zeros_like(z) for z in Z]
    for l in range(1, net.L):
        G = np.asarray(dW[l - 1], dtype=np.float64) * phi_matrix(net, Z[l], Z[l - 1])
        back[l] = Z[l] * G.sum(axis=1)[:, None] - G @ Z[l - 1]
        fwd[l - 1] = Z[l - 1] * G.sum(axis=0)[:, None] - G.T @ Z[l]
    return back, fwd


def edge_term(net: Net, Z: list, dW: list, l: int, i: int, j: int, theta: list | None = None) -> np.ndarray:
    """dW^l_ij theta^l_ij phi(r_ij) (z^l_i - z^(l-1)_j): edge (i, j)'s part of dL/dz^l_i (Z[l], 0-based l);
    theta (free amplitudes, W = theta g(r)) is part of it: leaving it out measured an error of 1.00 x the
    term as 0.12 of it."""
    zi, zj = np.asarray(Z[l][i], dtype=np.float64), np.asarray(Z[l - 1][j], dtype=np.float64)
    amp = 1.0 if theta is None else float(theta[l - 1][i, j])
    return float(dW[l - 1][i, j]) * amp * phi_matrix(net, zi[None], zj[None])[0, 0] * (zi - zj)


def pre_activation(net: Net | MLP, params: Params, X, Y) -> dict[str, list[np.ndarray]]:
    """dW (and dZ for a Net) with h_(l-1) in place of a_(l-1) in dW_l = delta_l^T a_(l-1); delta is the
    true one (delta_L = dL/da_L f_L'(h_L), delta_l = (delta_(l+1) W_(l+1)) f_l'(h_l))."""
    c = compile_net(net)
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    if net.spatial:
        assert params.Z is not None
        Ws = [kernel_matrix(net, params.Z[l], params.Z[l - 1]) for l in range(1, net.L)]
    else:
        assert params.W is not None
        Ws = [np.asarray(w, dtype=np.float64) for w in params.W]
    h, a = [X], [X]
    for l in range(1, net.L):
        hl = a[-1] @ Ws[l - 1].T + (params.b[l - 1] if params.b is not None else 0.0)
        h.append(hl)
        a.append(np.asarray(c.f[l - 1](hl), dtype=np.float64) + 0 * hl)
    B, K = Y.shape
    cols = c.loss_grad_rows(*a[-1].T, *Y.T)
    dA = np.stack([np.broadcast_to(np.asarray(col, dtype=np.float64), (B,)) for col in cols], 1) / c.divisor(B, K)
    dW: list[np.ndarray] = [np.zeros(0)] * (net.L - 1)
    for l in range(net.L - 1, 0, -1):
        delta = dA * c.df[l - 1](h[l])
        dW[l - 1] = delta.T @ h[l - 1]  # the mistake: h where a belongs
        dA = delta @ Ws[l - 1]
    out = {"dW": dW}
    if net.spatial:
        back, fwd = eq8_terms(net, params.Z, dW)  # type: ignore[arg-type]
        out["dZ"] = [b + f for b, f in zip(back, fwd)]
    return out


def kernel_matrix(net: Net, Zl, Zp) -> np.ndarray:
    """W_l = g(R_l) (g(0) at coincident nodes)."""
    c = compile_net(net)
    assert c.g is not None  # a spatial net's kernel is compiled
    Zl, Zp = np.asarray(Zl, dtype=np.float64), np.asarray(Zp, dtype=np.float64)
    R = np.sqrt(((Zl[:, None, :] - Zp[None, :, :]) ** 2).sum(-1))
    return np.where(R == 0, c.g0, np.broadcast_to(c.g(np.where(R == 0, 1.0, R)), R.shape))
