"""The ground truth by layers, on Arb balls: MATH.md "First order" evaluated layer by layer with
rigorous radii, for nets too large for the whole-loss program (derive.symbolic.build).

The whole-loss program differentiates one expression per scalar of the net and grows with edges x
batch: a 784-128-10 net is millions of nodes. This route keeps the exact side's two guarantees (every
primitive from its one SymPy definition, every value a ball with a rigorous radius) and evaluates

    kernel layer   r_ij = ||z^l_i - z^(l-1)_j||,  W = theta * g(R)  (W = g(R) with fixed amplitudes)
    dense layer    h_l = a_(l-1) W_l^T + b_l,  a_l = f_l(h_l)
    loss           J = sum_bk t(a_bk, y_bk) / divisor + sum_t c_t sum_ij rho_t(r_ij, w_ij)
    delta          delta_L = dL/da_L * f_L'(h_L),  delta_(l-1) = (delta_l W_l) * f_(l-1)'(h_(l-1))
    weights        dJ/dW_l = delta_l^T a_(l-1) + sum_t c_t rho_t,w
    eq. (8)        G_l = dJ/dW_l * theta_l * phi(R_l) + sum_t c_t rho_t,r / R_l   (phi = g'/r)
                   dJ/dZ_l += Z_l rowsum(G_l) - G_l Z_(l-1),  dJ/dZ_(l-1) += Z_(l-1) colsum(G_l) - G_l^T Z_l

with the matrix products as `arb_mat` products (Arb's C loops) and the primitives (g, phi, f, f', the
loss term and its derivative, rho and its partials) as ball functions printed from their SymPy
expressions by derive.lambdify's "arb" row. Where nodes coincide (r = 0 exactly) the exact limits
g(0+), phi(0+) and the penalty's limits in w are used, as every engine does (MATH.md "Coincident
nodes"). Cancellation in the efficient form of eq. (8) is no risk here: it widens the ball, and a ball
too wide for its array is not decided (derive.symbolic.balls), so the digits are raised.

It reads like the NumPy reference engine because it is the same mathematics; it is not the same code,
and tests prove it equal to the whole-loss program (derived by SymPy without eq. (8)) to 40 digits on
every case of the verification matrix.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp

from derive.compiled import row_symbols, separable_term
from derive.lambdify import lambdify, number_value
from derive.net import MLP, Net
from derive.primitives import R
from derive.primitives import X as H_SYM  # the activation variable (X is the input batch below)
from derive.primitives.penalty import RW, WW, coincidence_error

__all__ = ["layered_balls", "route_for", "loss_parts"]

#: Scalar operations of the whole-loss program above which the layered route is the ground truth's
#: (an 8-8-4 net at batch 3 is ~1.1e3, 16-16-4 ~3.6e3; above, compiling the program (about 0.1 ms per
#: operation) costs more than the layers take for every case of a check-grad run).
PROGRAM_LIMIT = 5_000


def route_for(net: Net | MLP, batch: int) -> str:
    """ "program" (the whole-loss program SymPy differentiates) for small nets, "layers" above
    `PROGRAM_LIMIT` estimated operations (edges x (batch + kernel) + nodes x batch)."""
    N = net.widths
    edges = sum(N[l] * N[l - 1] for l in range(1, len(N)))
    size = edges * (batch + (8 if getattr(net, "spatial", False) else 0)) + sum(N) * batch
    return "layers" if size > PROGRAM_LIMIT else "program"


# -- primitives as ball functions, compiled once per expression ---------------------------------
@lru_cache(maxsize=512)
def _ball_fn(args: tuple[sp.Symbol, ...], expr: sp.Expr):
    """expr(*args) on balls, elementwise over object arrays; a constant comes back as a ball."""
    from flint import arb

    fn = lambdify(list(args), expr, "arb")
    if not sp.sympify(expr).free_symbols & set(args):
        const = fn

        def fn(*a):  # noqa: F811  (a constant such as identity's f' = 1: a ball, whatever it printed as)
            return arb(const(*a))

    return np.frompyfunc(fn, len(args), 1)


def _ball(expr: sp.Expr):
    """A constant SymPy expression as a ball at the working precision."""
    from flint import arb

    return arb(lambdify([], sp.sympify(expr), "arb")())


def _balls(a: np.ndarray) -> np.ndarray:
    """Float64 array -> object array of exact balls (radius 0), same shape."""
    from flint import arb

    if not np.size(a):
        return np.empty(np.shape(a), object)
    return np.asarray(np.frompyfunc(arb, 1, 1)(np.asarray(a, dtype=np.float64)), dtype=object)


def _mat(a: np.ndarray):
    """Object array (n x m) of balls as an `arb_mat`."""
    from flint import arb_mat

    return arb_mat(a.shape[0], a.shape[1], a.reshape(-1).tolist())


def _arr(m) -> np.ndarray:
    """`arb_mat` as an object array of balls."""
    return np.array(m.entries(), dtype=object).reshape(m.nrows(), m.ncols())


def _matmul(a, b) -> np.ndarray:
    """a @ b of two object arrays (or arb_mat), by Arb's matrix product."""
    from flint import arb_mat

    ma = a if isinstance(a, arb_mat) else _mat(a)
    mb = b if isinstance(b, arb_mat) else _mat(b)
    return _arr(ma * mb)


def _with_ones(a: np.ndarray) -> np.ndarray:
    """[a, 1]: G [a, 1] is G a and G's row sums in one product."""
    from flint import arb

    return np.hstack([a, np.full((a.shape[0], 1), arb(1), dtype=object)])


# -- the layers -------------------------------------------------------------------------------------
def _is_zero(v) -> bool:
    return v.is_zero()


_ZERO = np.frompyfunc(_is_zero, 1, 1)
_SQRT = np.frompyfunc(lambda v: v.sqrt(), 1, 1)


def _kernel_layer(net: Net, Zl: np.ndarray, Zp: np.ndarray):
    """(R, K = g(R), phi(R), zero) of one kernel layer, N_l x N_(l-1) each; limits at r = 0."""
    diff = Zl[:, None, :] - Zp[None, :, :]
    R2 = (diff * diff).sum(axis=-1)
    R_ = _SQRT(R2)
    zero = _ZERO(R2).astype(bool)
    k = net.g
    if zero.any():
        safe = np.where(zero, _ball(1), R_)
        K = np.where(zero, _ball(k.g0), _ball_fn((R,), k.bound)(safe))
        phi = np.where(zero, _ball(k.phi0), _ball_fn((R,), k.phi)(safe))  # finite: exact_inputs checked
    else:
        K, phi = _ball_fn((R,), k.bound)(R_), _ball_fn((R,), k.phi)(R_)
    return R_, K, phi, zero


def _penalty_layer(net, layer: int, R_, W: np.ndarray, zero):
    """(value, P_w, P_phi) of the penalty terms covering `layer`, or (0, None, None) without any.

    P_w = sum_t c_t rho_t,w and P_phi = sum_t c_t rho_t,r / r (elementwise; the penalties' limits in w
    where r = 0); R_ is None for an MLP (rho of w only)."""
    terms = [(p, p.coef_exact(net.widths)) for p in getattr(net, "penalties", ()) if layer in p.covers(net.L)]
    if not terms:
        return None, None, None
    exact = number_value("arb")
    some = zero is not None and bool(zero.any())
    r = R_ if R_ is not None else np.full(W.shape, _ball(0), dtype=object)
    safe = np.where(zero, _ball(1), r) if some else r
    value, Pw, Pphi = _ball(0), None, None
    for p, c in terms:
        cb = exact(Fraction(c))
        rho = _ball_fn((RW, WW), p.d["rho"])(safe, W)
        rw = _ball_fn((RW, WW), p.d["rho_w"])(safe, W)
        ph = _ball_fn((RW, WW), p.d["phi"])(safe, W) if R_ is not None else None
        if some:
            if not p.gradient_at_0:
                i, j = (int(v) for v in np.argwhere(zero)[0])
                raise coincidence_error(p, f"node {i + 1} of layer {layer} and node {j + 1} of layer {layer - 1}")
            at0 = {k: _ball_fn((WW,), p.at0[k]) for k in ("rho", "rho_w", "phi")}  # finite: gradient_at_0
            rho = np.where(zero, at0["rho"](W), rho)
            rw = np.where(zero, at0["rho_w"](W), rw)
            ph = np.where(zero, at0["phi"](W), ph)
        value = value + cb * rho.sum()
        Pw = cb * rw if Pw is None else Pw + cb * rw
        if ph is not None:
            Pphi = cb * ph if Pphi is None else Pphi + cb * ph
    return value, Pw, Pphi


def loss_parts(net, B: int, K: int):
    """(a, y, row, t, divisor) of the loss on B x K outputs: the row symbols, the row loss, its one term
    t(a_1, y_1) when separable (else None) and the stated divisor as a ball."""
    obj = net.objective
    a, y = row_symbols(K)
    row = obj.row(a, y)
    return a, y, row, separable_term(row, a, y), number_value("arb")(Fraction(obj.divisor(B, K)))


def _loss(net, A: np.ndarray, Y: np.ndarray):
    """(loss, dL/da_L) of the B x K outputs A: the row loss summed and divided by the stated divisor."""
    a, y, row, t, div = loss_parts(net, *A.shape)
    if t is not None:  # sum_k t(a_k, y_k): one term and its derivative, elementwise over B x K
        value = _ball_fn((a[0], y[0]), t)(A, Y).sum()
        dA = _ball_fn((a[0], y[0]), sp.diff(t, a[0]))(A, Y)
        return value / div, dA / div
    rows = _ball_fn((*a, *y), row)(*A.T, *Y.T)
    cols = [_ball_fn((*a, *y), sp.diff(row, ai))(*A.T, *Y.T) for ai in a]
    return rows.sum() / div, np.stack(cols, axis=1) / div


def layered_balls(net: Net | MLP, P: list, T: list, Bs: list, X: np.ndarray, Y: np.ndarray) -> dict[str, Any]:
    """Every first-order quantity as balls at the working precision (flint.ctx), layer by layer.

    Args:
        net: the net. P: Z_1..Z_L (N_l x D, spatial) or W_2..W_L (N_l x N_(l-1), MLP), float64.
        T: theta_2..theta_L (free amplitudes) or []. Bs: b_2..b_L or []. X: B x N_1. Y: B x N_L.

    Returns:
        {loss, dW, dZ, db, dX, delta, dA, dtheta} as `derive.symbolic.truth` lays out the whole-loss
        program's outputs (object arrays of `flint.arb`; None where the net has no such quantity).
    """
    L, spatial = net.L, net.spatial
    Zs = [_balls(z) for z in P] if spatial else None
    thetas = [_balls(t) for t in T] if T else None
    bs = [_balls(b) for b in Bs] if Bs else None
    A = [_balls(X)]
    H: list[Any] = [None]
    Ws: list[Any] = [None]
    Wmat: list[Any] = [None]
    kern: list[Any] = [None]
    for l in range(1, L):  # index l is layer l + 1
        if spatial:
            assert Zs is not None and isinstance(net, Net)
            R_, K, phi, zero = _kernel_layer(net, Zs[l], Zs[l - 1])
            W = K * thetas[l - 1] if thetas is not None else K
            kern.append((R_, K, phi, zero))
        else:
            W = _balls(P[l - 1])
            kern.append((None, None, None, None))
        Ws.append(W)
        Wmat.append(_mat(W))
        h = _matmul(A[-1], Wmat[-1].transpose())
        if bs is not None:
            h = h + bs[l - 1][None, :]
        H.append(h)
        A.append(_ball_fn((H_SYM,), net.f(l + 1).expr)(h))
    loss, dA = _loss(net, A[-1], _balls(Y))
    delta: list[Any] = [None] * L
    dAs: list[Any] = [None] * L
    dW: list[Any] = [None] * (L - 1)
    db: list[Any] = [None] * (L - 1)
    dtheta: list[Any] | None = [None] * (L - 1) if thetas is not None else None
    dZ = [np.full(z.shape, _ball(0), dtype=object) for z in Zs] if Zs is not None else None
    dAs[L - 1] = dA
    for l in range(L - 1, 0, -1):
        delta[l] = dA * _ball_fn((H_SYM,), net.f(l + 1).deriv)(H[l])
        dW[l - 1] = _matmul(delta[l].T, A[l - 1])
        db[l - 1] = delta[l].sum(axis=0)
        dA = _matmul(delta[l], Wmat[l])
        dAs[l - 1] = dA
        R_, K, phi, zero = kern[l]
        value, Pw, Pphi = _penalty_layer(net, l + 1, R_, Ws[l], zero)
        if value is not None:
            loss = loss + value
            dW[l - 1] = dW[l - 1] + Pw
        if dZ is not None and Zs is not None:
            amp = dW[l - 1]
            if dtheta is not None and thetas is not None:
                dtheta[l - 1] = dW[l - 1] * K  # dJ/dtheta = dJ/dW g(R)
                amp = dW[l - 1] * thetas[l - 1]
            G = amp * phi if Pphi is None else amp * phi + Pphi
            Gm = _mat(G)
            back = _matmul(Gm, _with_ones(Zs[l - 1]))  # [G Z_(l-1), rowsum G]
            fwd = _matmul(Gm.transpose(), _with_ones(Zs[l]))  # [G^T Z_l, colsum G]
            dZ[l] = dZ[l] + Zs[l] * back[:, -1:] - back[:, :-1]
            dZ[l - 1] = dZ[l - 1] + Zs[l - 1] * fwd[:, -1:] - fwd[:, :-1]
    return dict(
        loss=loss,
        dW=dW,
        dZ=dZ,
        db=db if net.bias else None,
        dX=dAs[0],
        delta=[None, *delta[1:]],
        dA=[dAs[0], *dAs[1:]],
        dtheta=dtheta,
    )
