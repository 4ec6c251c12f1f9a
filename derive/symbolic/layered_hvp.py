"""Second order by layers on Arb balls: Pearlmutter's R-operator, R{x} = d/de x(params + e v) at e = 0,
carried beside MATH.md's forward and backward passes (derive.symbolic.layered), so that H v and the full
Hessian of a net of any size come with rigorous radii.

Per layer l = 2..L (z' = Z_(l-1), v' = V_(l-1); phi = g'/r and psi = phi'/r from the kernel's SymPy
expressions; t the loss term, f the activation):

    forward     S_ij = <z_i - z'_j, v_i - v'_j>,  R{K} = phi(R) S,  R{W} = theta R{K} + R{theta} K
                R{h} = R{a_(l-1)} W^T + a_(l-1) R{W}^T + R{b},  R{a} = f'(h) R{h}
    loss        R{dL/da_L} = (d^2 L / d a_L^2) R{a_L} / divisor   (t'' for a separable loss)
    backward    R{delta} = R{dA} f'(h) + dA f''(h) R{h}
                R{dW} = R{delta}^T a_(l-1) + delta^T R{a_(l-1)},  R{db} = colsum R{delta}
                R{dA_(l-1)} = R{delta} W + delta R{W}
    penalties   R{P_w} = c (rho_rw / r) S + c rho_ww R{W},  R{P_phi} = c psi_rho S + c (rho_rw / r) R{W}
    eq. (8)     G = dJ/dW theta phi + P_phi,  R{G} = R{dJ/dW theta} phi + dJ/dW theta psi S + R{P_phi}
                R{dZ_l} += V_l rowsum(G) + Z_l rowsum(R{G}) - R{G} Z' - G V'
                R{dZ_(l-1)} += V' colsum(G) + Z' colsum(R{G}) - R{G}^T Z_l - G^T V_l
                R{dtheta} = R{dJ/dW} K + dJ/dW R{K}

Where nodes coincide S = 0 exactly, so psi is not needed there (it may be infinite); the kernel's
Hessian at r = 0 exists iff derive decided lim r phi'(r) = 0 (the caller checks, as every engine does),
and a penalty's second-order limits in w are used. The values (the forward cache, delta, dW, ...) are
computed once (`Curvature`); each direction costs one tangent pass, and the full Hessian is n of them.
Tests prove it equal to the whole-loss program's Hessian (derive.symbolic.build) to 40 digits.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import sympy as sp

from derive.lambdify import number_value
from derive.net import MLP, Net
from derive.primitives import R
from derive.primitives import X as H_SYM  # the activation variable (X is the input batch below)
from derive.primitives.penalty import RW, WW, coincidence_error
from derive.symbolic.layered import _ball, _ball_fn, _balls, _kernel_layer, _loss, _mat, _matmul, _with_ones, loss_parts

__all__ = ["Curvature"]


def _dirac_free(e: sp.Expr) -> sp.Expr:
    """DiracDelta (from sign/abs in mae, huber) is 0 almost everywhere: the a.e. Hessian, as torch gives."""
    return e.replace(sp.DiracDelta, lambda *_: sp.S.Zero)


def _S(Zl: np.ndarray, Zp: np.ndarray, Vl: np.ndarray, Vp: np.ndarray) -> np.ndarray:
    """S_ij = <Zl_i - Zp_j, Vl_i - Vp_j> (N_l x N_(l-1)), balls."""
    return ((Zl[:, None, :] - Zp[None, :, :]) * (Vl[:, None, :] - Vp[None, :, :])).sum(axis=-1)


class Curvature:
    """The values of one net at one point, ready for H v in any direction (balls at the working
    precision, flint.ctx, which must not change between `__init__` and `hvp`).

    Args: as derive.symbolic.layered.layered_balls (float64 P, T, Bs, X, Y)."""

    def __init__(self, net: Net | MLP, P: list, T: list, Bs: list, X: np.ndarray, Y: np.ndarray):
        self.net, L, spatial = net, net.L, net.spatial
        self.Z = [_balls(z) for z in P] if spatial else None
        self.theta = [None, *(_balls(t) for t in T)] if T else None
        b = [_balls(v) for v in Bs] if Bs else None
        A: list[Any] = [_balls(X)]
        H: list[Any] = [None]
        self.W: list[Any] = [None]
        self.Wm: list[Any] = [None]
        self.kern: list[Any] = [None]  # per layer (R, K = g(R), phi(R), psi(R), zero), None for an MLP
        for l in range(1, L):
            if spatial:
                assert self.Z is not None and isinstance(net, Net)
                R_, K, phi, zero = _kernel_layer(net, self.Z[l], self.Z[l - 1])
                if zero.any():
                    safe = np.where(zero, _ball(1), R_)
                    psi = np.where(zero, _ball(0), _ball_fn((R,), net.g.psi)(safe))  # multiplies S = 0 there
                else:
                    psi = _ball_fn((R,), net.g.psi)(R_)
                self.kern.append((R_, K, phi, psi, zero))
                W = K * self.theta[l] if self.theta is not None else K
            else:
                self.kern.append(None)
                W = _balls(P[l - 1])
            self.W.append(W)
            self.Wm.append(_mat(W))
            h = _matmul(A[-1], self.Wm[-1].transpose())
            H.append(h + b[l - 1][None, :] if b is not None else h)
            A.append(_ball_fn((H_SYM,), net.f(l + 1).expr)(H[-1]))
        self.A, self.H = A, H
        self.Y = _balls(Y)
        _, dA = _loss(net, A[-1], self.Y)
        self.fp = [None] + [_ball_fn((H_SYM,), net.f(l + 1).deriv)(H[l]) for l in range(1, L)]
        self.fpp = [None] + [_ball_fn((H_SYM,), _dirac_free(sp.diff(net.f(l + 1).deriv, H_SYM)))(H[l]) for l in range(1, L)]
        self.dA: list[Any] = [None] * L
        self.delta: list[Any] = [None] * L
        self.dJ: list[Any] = [None] * L  # dJ/dW_l: delta^T a + the penalties' P_w
        self.pen: list[Any] = [None] * L  # (P_phi, P_phiw, P_ww, P_psi) of the penalties, or None
        self.dA[L - 1] = dA
        for l in range(L - 1, 0, -1):
            self.delta[l] = self.dA[l] * self.fp[l]
            self.dJ[l] = _matmul(self.delta[l].T, A[l - 1])
            if l > 1:
                self.dA[l - 1] = _matmul(self.delta[l], self.Wm[l])
            self.pen[l] = self._penalties(l)
            if self.pen[l] is not None:
                self.dJ[l] = self.dJ[l] + self.pen[l][0]

    def _penalties(self, l: int):
        """(P_w, P_phi, P_phiw, P_ww, P_psi) of the terms covering layer l + 1 (module docstring), or None."""
        net = self.net
        terms = [(p, p.coef_exact(net.widths)) for p in getattr(net, "penalties", ()) if l + 1 in p.covers(net.L)]
        if not terms:
            return None
        W, kern = self.W[l], self.kern[l]
        zero: Any = kern[4] if kern is not None else None
        some = zero is not None and bool(zero.any())
        r = kern[0] if kern is not None else np.full(W.shape, _ball(0), dtype=object)
        safe = np.where(zero, _ball(1), r) if some else r
        out: list[Any] = [None] * 5
        names = ("rho_w", "phi", "phi_w", "rho_ww", "psi")
        for p, c in terms:
            cb = number_value("arb")(Fraction(c))
            vals: list[Any] = []
            for k in names:
                if kern is None and k in ("phi", "phi_w", "psi"):
                    vals.append(None)  # an MLP's rho(w): no r
                    continue
                v = _ball_fn((RW, WW), _dirac_free(p.d[k]))(safe, W)
                if some and k != "psi":  # psi multiplies S = 0 where r = 0
                    lim = p.at0.get(k)
                    if lim is None:
                        i, j = (int(x) for x in np.argwhere(zero)[0])
                        raise coincidence_error(p, f"node {i + 1} of layer {l + 1} and node {j + 1} of layer {l}")
                    v = np.where(zero, _ball_fn((WW,), _dirac_free(lim))(W), v)
                elif some:
                    v = np.where(zero, _ball(0), v)
                vals.append(v)
            for i, v in enumerate(vals):
                if v is not None:
                    out[i] = cb * v if out[i] is None else out[i] + cb * v
        return tuple(out)

    def _loss_curvature(self, U: np.ndarray) -> np.ndarray:
        """(d^2 L / d a_L^2) U / divisor (B x K)."""
        net, A, Y = self.net, self.A[-1], self.Y
        B, K = A.shape
        a, y, row, t, div = loss_parts(net, B, K)
        if t is not None:
            return _ball_fn((a[0], y[0]), _dirac_free(sp.diff(t, a[0], 2)))(A, Y) * U / div
        out = np.full((B, K), _ball(0), dtype=object)
        for i in range(K):
            for j in range(K):
                hij = _dirac_free(sp.diff(row, a[i], a[j]))
                if hij != 0:
                    out[:, i] = out[:, i] + _ball_fn((*a, *y), hij)(*A.T, *Y.T) * U[:, j]
        return out / div

    def hvp(self, Vm: list, Vb: list | None) -> tuple[list, list | None]:
        """H v for the main blocks `Vm` (Z_1..Z_L then theta_2..theta_L, or W_2..W_L; float64) and the
        bias blocks `Vb` (or None: a zero bias direction).

        Returns:
            (main blocks of H v, bias blocks of H v or None when `Vb` is None), balls in V's shapes.
        """
        L, spatial = self.net.L, self.net.spatial
        V = [_balls(v) for v in Vm]
        Vb_ = [_balls(np.reshape(v, -1)) for v in Vb] if Vb is not None else None
        Vth = [None, *V[L:]] if self.theta is not None else None
        RW: list[Any] = [None] * L
        RK: list[Any] = [None] * L
        S: list[Any] = [None] * L
        Rh: list[Any] = [None] * L
        Ra: list[Any] = [None] * L  # R{a_1} = R{X} = 0: the inputs are data
        for l in range(1, L):
            if spatial:
                assert self.Z is not None
                S[l] = _S(self.Z[l], self.Z[l - 1], V[l], V[l - 1])
                RK[l] = self.kern[l][2] * S[l]
                RW[l] = RK[l] if self.theta is None else self.theta[l] * RK[l] + Vth[l] * self.kern[l][1]  # type: ignore[index]
            else:
                RW[l] = V[l - 1]
            rh = _matmul(self.A[l - 1], _mat(RW[l]).transpose())
            if Ra[l - 1] is not None:
                rh = rh + _matmul(Ra[l - 1], self.Wm[l].transpose())
            if Vb_ is not None:
                rh = rh + Vb_[l - 1][None, :]
            Rh[l] = rh
            Ra[l] = self.fp[l] * rh
        RdA = self._loss_curvature(Ra[-1])
        HZ = [np.full(z.shape, _ball(0), dtype=object) for z in self.Z] if spatial and self.Z is not None else None
        HW: list[Any] = [None] * (L - 1)
        Hth: list[Any] = [None] * (L - 1)
        Hb: list[Any] = [None] * (L - 1)
        for l in range(L - 1, 0, -1):
            Rdelta = RdA * self.fp[l] + self.dA[l] * self.fpp[l] * Rh[l]
            RdJ = _matmul(Rdelta.T, self.A[l - 1])
            if Ra[l - 1] is not None:
                RdJ = RdJ + _matmul(self.delta[l].T, Ra[l - 1])
            pen = self.pen[l]
            if pen is not None:
                _, _, Pphiw, Pww, _ = pen
                RdJ = RdJ + Pww * RW[l] + (Pphiw * S[l] if spatial and Pphiw is not None else 0)
            HW[l - 1] = RdJ
            Hb[l - 1] = Rdelta.sum(axis=0)
            if l > 1:
                RdA = _matmul(Rdelta, self.Wm[l]) + _matmul(self.delta[l], _mat(RW[l]))
            if not spatial or HZ is None or self.Z is None:
                continue
            _, K, phi, psi, _ = self.kern[l]
            dJ = self.dJ[l]
            amp, Ramp = dJ, RdJ
            if self.theta is not None and Vth is not None:
                Hth[l - 1] = RdJ * K + dJ * RK[l]
                amp, Ramp = dJ * self.theta[l], RdJ * self.theta[l] + dJ * Vth[l]
            G = amp * phi
            RG = Ramp * phi + amp * psi * S[l]
            if pen is not None and pen[1] is not None:
                _, Pphi, Pphiw, _, Ppsi = pen
                G = G + Pphi
                RG = RG + Ppsi * S[l] + Pphiw * RW[l]
            Zl, Zp, Vl, Vp = self.Z[l], self.Z[l - 1], V[l], V[l - 1]
            Gm, RGm = _mat(G), _mat(RG)
            g_back = _matmul(Gm, _with_ones(Vp))  # [G V', rowsum G]
            r_back = _matmul(RGm, _with_ones(Zp))  # [R{G} Z', rowsum R{G}]
            g_fwd = _matmul(Gm.transpose(), _with_ones(Vl))  # [G^T V_l, colsum G]
            r_fwd = _matmul(RGm.transpose(), _with_ones(Zl))  # [R{G}^T Z_l, colsum R{G}]
            HZ[l] = HZ[l] + Vl * g_back[:, -1:] + Zl * r_back[:, -1:] - r_back[:, :-1] - g_back[:, :-1]
            HZ[l - 1] = HZ[l - 1] + Vp * g_fwd[:, -1:] + Zp * r_fwd[:, -1:] - r_fwd[:, :-1] - g_fwd[:, :-1]
        if spatial:
            assert HZ is not None
            main = HZ + (Hth if self.theta is not None else [])
        else:
            main = HW
        return main, (Hb if Vb is not None else None)
