"""Numeric forms of a network's primitives, compiled once per (network, backend) from SymPy.

`numeric` engines receive these callables and never build SymPy expressions themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import sympy as sp

from .lambdify import lambdify, primitive_callables
from .net import MLP, Net
from .primitives import R, X

__all__ = ["Compiled", "compile_net", "row_symbols"]


def row_symbols(k: int) -> tuple[list[sp.Symbol], list[sp.Symbol]]:
    """Symbols a_1..a_k (predictions) and y_1..y_k (targets) of one batch row."""
    return ([sp.Symbol(f"a{i + 1}", real=True) for i in range(k)],
            [sp.Symbol(f"y{i + 1}", real=True) for i in range(k)])


@dataclass(frozen=True)
class Compiled:
    """Callables for one network on one backend.

    Attributes:
        g, phi: kernel g(r) and phi(r) = g'(r)/r, elementwise (phi is NaN-free only for r > 0;
            engines substitute `phi0` at r = 0).
        dg: g'(r).
        g0, dg0, phi0: g(0), g'(0+) and lim phi (floats; phi0 is inf when g'(0) != 0).
        f, df: per layer 2..L (index l-2) activation and its derivative.
        loss_rows: (a_cols..., y_cols...) -> per-row loss; loss_grad_rows -> list of K columns.
        divisor: callable (B, K) -> reduction divisor.
        dphi: phi'(r) (second-order engines), elementwise.
    """

    g: Callable | None
    dg: Callable | None
    phi: Callable | None
    dphi: Callable | None
    g0: float
    dg0: float
    phi0: float
    d2g0: float
    f: tuple[Callable, ...]
    df: tuple[Callable, ...]
    d2f: tuple[Callable, ...]
    loss_rows: Callable
    loss_grad_rows: Callable
    loss_hess_rows: Callable
    divisor: Callable[[int, int], int]


def _float(v: sp.Expr) -> float:
    v = sp.sympify(v)
    if v in (sp.oo, -sp.oo, sp.zoo) or v.has(sp.oo, -sp.oo, sp.zoo, sp.nan):
        return float("inf") if v != -sp.oo else float("-inf")
    return float(v)


@lru_cache(maxsize=128)
def compile_net(net: Net | MLP, backend: str = "numpy") -> Compiled:
    """Compile `net`'s kernel, activations and loss for `backend` ("numpy" or "torch")."""
    if net.spatial:
        k = net.g
        g, dg, phi = (primitive_callables(e, R, backend) for e in (k.bound, k.dg, k.phi))
        dphi = primitive_callables(sp.diff(k.phi, R), R, backend)
        g0, dg0, phi0, d2g0 = _float(k.bound.subs(R, 0)), _float(k.dg0), _float(k.phi0), _float(k.d2g0)
    else:
        g = dg = phi = dphi = None
        g0 = dg0 = phi0 = d2g0 = float("nan")
    acts = [net.f(l) for l in range(2, net.L + 1)]
    f = tuple(primitive_callables(a.expr, X, backend) for a in acts)
    df = tuple(primitive_callables(a.deriv, X, backend) for a in acts)
    d2f = tuple(primitive_callables(sp.diff(a.deriv, X), X, backend) for a in acts)
    K = net.widths[-1]
    a, y = row_symbols(K)
    row = net.objective.row(a, y)
    grad = [sp.diff(row, ai) for ai in a]
    # DiracDelta (from sign/abs in mae, huber) is 0 almost everywhere: the a.e. Hessian, as torch gives.
    hess = [[sp.diff(gi, aj).replace(sp.DiracDelta, lambda *_: sp.S.Zero) for aj in a] for gi in grad]
    return Compiled(
        g=g, dg=dg, phi=phi, dphi=dphi, g0=g0, dg0=dg0, phi0=phi0, d2g0=d2g0,
        f=f, df=df, d2f=d2f,
        loss_rows=lambdify([*a, *y], row, backend),
        loss_grad_rows=lambdify([*a, *y], grad, backend),
        loss_hess_rows=lambdify([*a, *y], hess, backend),
        divisor=net.objective.divisor,
    )


