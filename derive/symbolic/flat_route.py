"""The flat route: the loss as one SymPy expression of the coordinate symbols (`flat_loss`) and its
gradient by `sympy.diff` (`flat_gradient`). Independent of the program route, for tiny nets and the
derivation report."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derive.net import MLP, Net
from derive.primitives import R, X
from derive.symbolic.template import drop_dirac

__all__ = ["FlatLoss", "flat_loss", "flat_gradient"]


@dataclass
class FlatLoss:
    """The loss as one SymPy expression.

    Attributes:
        expr: J (the loss plus penalties). params: symbols of Z (N_l x D per layer), then theta (free
            amplitudes, N_l x N_(l-1) per layer 2..L), or W (MLP); biases; x, y: data symbols.
        W: the weights as expressions of the coordinates (sympy Matrices, layers 2..L).
        h, a: per layer 2..L, B x N_l Matrices of expressions (a[0] = X).
        dist: per layer 2..L, the N_l x N_(l-1) Matrix of distances r_ij (spatial nets; [] for an MLP).
        penalty: the penalties' part of `expr` (0 without penalties), so expr - penalty is the data loss.
    """

    expr: sp.Expr
    params: list
    biases: list
    x: sp.Matrix
    y: sp.Matrix
    W: list
    h: list
    a: list
    dist: list
    penalty: sp.Expr

    @property
    def leaves(self) -> list[sp.Symbol]:
        return [s for M in self.params for s in M] + [s for v in self.biases for s in v]


def flat_loss(net: Net | MLP, batch: int = 1) -> FlatLoss:
    """The exact loss of `net` on `batch` symbolic rows as one expression (MATH.md forward rule)."""
    N, L, B = net.widths, net.L, batch
    sym = lambda n: sp.Symbol(n, real=True)  # noqa: E731
    penalty, dist = sp.S.Zero, []
    if net.spatial:
        params = [sp.Matrix(N[l], net.dim, lambda i, d: sym(f"z{l + 1}_{i}_{d}")) for l in range(L)]
        g = net.g.bound
        dist = [
            sp.Matrix(
                N[l], N[l - 1], lambda i, j: sp.sqrt(sum((params[l][i, d] - params[l - 1][j, d]) ** 2 for d in range(net.dim)))
            )
            for l in range(1, L)
        ]
        W = [D.applyfunc(lambda r: g.subs(R, r)) for D in dist]
        if net.free:  # W = theta * g(r); the amplitudes are leaves after the coordinates
            thetas = [sp.Matrix(N[l + 1], N[l], lambda i, j: sym(f"t{l + 2}_{i}_{j}")) for l in range(L - 1)]
            W = [T.multiply_elementwise(Wl) for T, Wl in zip(thetas, W)]
            params = params + thetas
    else:
        params = [sp.Matrix(N[l + 1], N[l], lambda i, j: sym(f"w{l + 2}_{i}_{j}")) for l in range(L - 1)]
        W = params
    from derive.primitives.penalty import RW, WW

    for l in range(2, L + 1):  # an MLP's rho is in w alone (derive.net.MLP): no distances
        for p, _ in net.layer_penalties(l):
            rs = dist[l - 2] if net.spatial else [sp.S.Zero] * len(W[l - 2])
            edges = [p.expr.xreplace({RW: r, WW: w}) for r, w in zip(rs, W[l - 2])]
            penalty += sp.Rational(p.coef_exact(N)) * sp.Add(*edges)
    biases = [sp.Matrix(1, N[l + 1], lambda _, i: sym(f"b{l + 2}_{i}")) for l in range(L - 1)] if net.bias else []
    x = sp.Matrix(B, N[0], lambda b, j: sym(f"x{b}_{j}"))
    y = sp.Matrix(B, N[-1], lambda b, k: sym(f"y{b}_{k}"))
    a, hs, As = x, [], [x]
    for l in range(1, L):
        h = a * W[l - 1].T
        if net.bias:
            h = h + sp.ones(B, 1) * biases[l - 1]
        f = net.f(l + 1)
        a = h.applyfunc(lambda v: f.expr.xreplace({X: v}))
        hs.append(h)
        As.append(a)
    obj = net.objective
    K = N[-1]
    expr = sp.Add(*[obj.row(list(a.row(b)), list(y.row(b))) for b in range(B)]) / obj.divisor(B, K) + penalty
    return FlatLoss(expr, params, biases, x, y, W, hs, As, dist, penalty)


def flat_gradient(net: Net | MLP, batch: int = 1):
    """(FlatLoss, [dL/dleaf for each leaf]) by `sympy.diff` on the flattened loss (independent route)."""
    fl = flat_loss(net, batch)
    return fl, [drop_dirac(sp.diff(fl.expr, s)) for s in fl.leaves]
