"""A network's forward cache and true derivatives as SymPy expressions, for proving formula claims
(`derivcheck.formula.prove_formula`): a claimed formula evaluated on these entries minus the true value
must simplify to 0 (`derive.decide.is_zero`).

Forward rule (MATH.md): R_l = |z^l_i - z^(l-1)_j|, W_l = g(R_l) (spatial) or free weights (MLP),
h_l = a_(l-1) W_l^T + b_l, a_l = f_l(h_l), L = sum_b row(a_L[b], y[b]) / divisor(B, K).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from derive.net import MLP, Net
from derive.primitives import R as RSYM
from derive.primitives import X as XSYM

__all__ = ["symbolic_view"]


def symbolic_view(net: Net | MLP, batch: int, generic: bool) -> dict[str, Any]:
    """The fields of a formula `View` (derivcheck.formula) as SymPy expressions of symbolic inputs,
    weights (or coordinates), biases and targets; true derivatives by sympy.diff (dL/dh and dL/da
    through zero perturbations u_l of h_l and e_l of a_l, set to 0 after differentiating).

    Args:
        net: the network. batch: B, the number of symbolic rows.
        generic: every layer's activation is an undefined function f_l (a proof then holds for any
            differentiable activation); otherwise the network's own activations are used.

    Returns:
        {field: value}: X (B x N_1), Y (B x N_L), and per layer (index 0 = layer 1; None where a
        layer has none) a, h, W, b, dact, R, phi, dg, delta, dA, dW (MLP), db, dZ (spatial), plus dX,
        loss and net; arrays are object arrays of SymPy expressions.
    """
    L, N = net.L, net.widths

    def mat(name, r, c):
        return np.array([[sp.Symbol(f"{name}_{i}{j}", real=True) for j in range(c)] for i in range(r)], dtype=object)

    X, Y = mat("x", batch, N[0]), mat("y", batch, N[-1])
    # entries are object arrays of SymPy expressions (None where a layer has none)
    W: list[Any]
    Z: list[Any] | None
    R: list[Any]
    phi: list[Any]
    dg: list[Any]
    W, Z, R, phi, dg = [None] * L, None, [None] * L, [None] * L, [None] * L
    if net.spatial:
        Z = [mat(f"z{l + 1}", N[l], net.dim) for l in range(L)]
        g, dgx, phix = net.g.bound, net.g.dg, net.g.phi
        for l in range(1, L):
            R[l] = np.array(
                [
                    [sp.sqrt(sum((Z[l][i, d] - Z[l - 1][j, d]) ** 2 for d in range(net.dim))) for j in range(N[l - 1])]
                    for i in range(N[l])
                ],
                dtype=object,
            )
            W[l] = np.vectorize(lambda r: g.subs(RSYM, r), otypes=[object])(R[l])
            dg[l] = np.vectorize(lambda r: dgx.subs(RSYM, r), otypes=[object])(R[l])
            phi[l] = np.vectorize(lambda r: phix.subs(RSYM, r), otypes=[object])(R[l])
    else:
        W = [None] + [mat(f"w{l + 1}", N[l], N[l - 1]) for l in range(1, L)]
    b = (
        [None] + [np.array([sp.Symbol(f"b{l + 1}_{i}", real=True) for i in range(N[l])], dtype=object) for l in range(1, L)]
        if net.bias
        else None
    )
    U: list[Any] = [None] + [mat(f"u{l + 1}", batch, N[l]) for l in range(1, L)]  # perturbs h_l
    E = [mat(f"e{l + 1}", batch, N[l]) for l in range(L)]  # perturbs a_l
    funcs = []
    for l in range(1, L):
        if generic:
            F = sp.Function(f"f{l + 1}")
            funcs.append((lambda x, F=F: F(x), lambda x, F=F: sp.Derivative(F(XSYM), XSYM).subs(XSYM, x)))
        else:
            act = net.f(l + 1)
            funcs.append((lambda x, e=act.expr: e.subs(XSYM, x), lambda x, e=act.deriv: e.subs(XSYM, x)))
    a, h = [X + E[0]], [None]
    for l in range(1, L):
        hl = a[-1] @ W[l].T + (b[l] if b is not None else 0) + U[l]
        h.append(hl)
        a.append(np.vectorize(funcs[l - 1][0], otypes=[object])(hl) + E[l])
    obj = net.objective
    total = sum(obj.row(list(a[-1][r]), list(Y[r])) for r in range(batch)) / obj.divisor(batch, N[-1])
    zero = {s: 0 for arr in [*U[1:], *E] for s in arr.ravel()}
    at0 = lambda e: sp.sympify(e).subs(zero)  # noqa: E731
    v0 = np.vectorize(at0, otypes=[object])
    grad = lambda arr: np.vectorize(lambda s: at0(sp.diff(total, s)), otypes=[object])(arr)  # noqa: E731
    hs = [None] + [v0(x) for x in h[1:]]
    dact = [None] + [np.vectorize(funcs[l - 1][1], otypes=[object])(hs[l]) for l in range(1, L)]
    return dict(
        net=net,
        X=X,
        Y=Y,
        a=[v0(x) for x in a],
        h=hs,
        W=W,
        b=b,
        dact=dact,
        Z=Z,
        R=R,
        phi=phi,
        dg=dg,
        delta=[None] + [grad(u) for u in U[1:]],
        dA=[grad(e) for e in E],
        dW=[None] + [grad(w) for w in W[1:]] if not net.spatial else [None] * L,
        db=[None] + [grad(x) for x in b[1:]] if b is not None else None,
        dZ=[grad(z) for z in Z] if Z is not None else None,
        dX=grad(X),
        loss=at0(total),
    )
