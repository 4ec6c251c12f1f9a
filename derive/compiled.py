"""Numeric forms of a network's primitives, compiled once per (network, backend) from SymPy.

`numeric` engines receive these callables and never build SymPy expressions themselves.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import sympy as sp

from derive.lambdify import fused_kernel, lambdify, primitive_callables
from derive.net import MLP, Net
from derive.primitives import R, X

__all__ = ["Compiled", "compile_net", "row_symbols"]


def row_symbols(k: int) -> tuple[list[sp.Symbol], list[sp.Symbol]]:
    """Symbols a_1..a_k (predictions) and y_1..y_k (targets) of one batch row."""
    return ([sp.Symbol(f"a{i + 1}", real=True) for i in range(k)], [sp.Symbol(f"y{i + 1}", real=True) for i in range(k)])


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
    # Separable losses (row = sum_k t(a_k, y_k): all but softmax_ce): t, dt/da, d2t/da2 on whole
    # B x K arrays (A, Y), compiled from one two-symbol term, so compiling costs O(1), not O(K^2).
    loss_terms: Callable | None = None
    loss_terms_grad: Callable | None = None
    loss_terms_hess: Callable | None = None
    phi_over_g: float | None = None  # c when phi = c g exactly (gaussian: -2/s^2): phi costs one multiply
    # FusedKernel (g, phi, psi of squared distances, one numexpr pass each) or None; numpy only
    fused: Any = None


def _float(v: sp.Expr | None) -> float:
    if v is None:  # a limit SymPy did not decide within its budget: NaN, so coincident nodes are refused
        return float("nan")
    v = sp.sympify(v)
    if v in (sp.oo, -sp.oo, sp.zoo) or v.has(sp.oo, -sp.oo, sp.zoo, sp.nan):
        return float("inf") if v != -sp.oo else float("-inf")
    return float(v)


@lru_cache(maxsize=64)
def _kernel_part(spec: str, params: tuple, backend: str) -> dict:
    from derive.primitives import kernel

    k = kernel(spec, params)
    g, dg, phi = (primitive_callables(e, R, backend) for e in (k.bound, k.dg, k.phi))
    ratio = k.phi_over_g  # phi = c g exactly (gaussian)? Undecided within the step budget: None, phi is evaluated
    fused = fused_kernel(k.bound, k.phi, R) if backend == "numpy" else None
    return dict(
        g=g,
        dg=dg,
        phi=phi,
        dphi=primitive_callables(sp.diff(k.phi, R), R, backend),
        fused=fused,
        phi_over_g=None if ratio is None else float(ratio),
        # g(0) as a limit: a formula such as sin(r)/r is 0/0 at r = 0 but has a value there
        g0=_float(k.g0),
        dg0=_float(k.dg0),
        phi0=_float(k.phi0),
        d2g0=_float(k.d2g0),
    )


def separable_term(row: sp.Expr, a: list, y: list) -> sp.Expr | None:
    """t(a_1, y_1) if row == sum_k t(a_k, y_k) exactly (structurally), else None."""
    index = {s: k for k, s in enumerate(a)} | {s: k for k, s in enumerate(y)}
    coeff, rest = row.as_coeff_Mul()
    groups: dict[int, list] = {}
    for term in sp.Add.make_args(rest):
        ks = {index.get(s, -1) for s in term.free_symbols}
        if len(ks) != 1 or -1 in ks:
            return None
        groups.setdefault(ks.pop(), []).append(term)
    if sorted(groups) != list(range(len(a))):
        return None
    t = coeff * sp.Add(*groups[0])
    for k in range(1, len(a)):
        if coeff * sp.Add(*groups[k]) != t.xreplace({a[0]: a[k], y[0]: y[k]}):
            return None
    return t


def _separable_part(row: sp.Expr, a: list, y: list, backend: str) -> dict | None:
    """The loss callables of a separable row from its one term: the row, its K gradient columns
    and its K x K Hessian (int 0 off the diagonal, as the general route gives) all come from
    t, t' and t'' evaluated on the stacked B x K arrays."""
    t = separable_term(row, a, y)
    if t is None:
        return None
    a1, y1 = a[0], y[0]
    t1 = sp.diff(t, a1)
    # DiracDelta (from sign/abs in mae, huber) is 0 almost everywhere: the a.e. Hessian, as torch gives.
    t2 = sp.diff(t1, a1).replace(sp.DiracDelta, lambda *_: sp.S.Zero)
    fns = [lambdify([a1, y1], e, backend) for e in (t, t1, t2)]
    K = len(a)

    def stack(cols):
        if backend == "torch":  # derive never imports torch; the columns are torch tensors here
            return sys.modules["torch"].stack(list(cols), -1)
        import numpy as np

        return np.stack(cols, -1)

    def terms(fn):
        def call(A, Y):
            out = fn(A, Y)
            return out if getattr(out, "shape", None) == A.shape else A * 0 + out

        return call

    tf, tg, th = (terms(fn) for fn in fns)

    def loss_rows(*cols):
        return tf(stack(cols[:K]), stack(cols[K:])).sum(-1)

    def loss_grad_rows(*cols):
        G = tg(stack(cols[:K]), stack(cols[K:]))
        return [G[..., k] for k in range(K)]

    def loss_hess_rows(*cols):
        Hd = th(stack(cols[:K]), stack(cols[K:]))
        H: list[list] = [[0] * K for _ in range(K)]
        if t2 != 0:  # an exactly-zero diagonal stays the int 0 (skipped by second-order engines)
            for k in range(K):
                H[k][k] = Hd[..., k]
        return H

    return dict(
        loss_rows=loss_rows,
        loss_grad_rows=loss_grad_rows,
        loss_hess_rows=loss_hess_rows,
        loss_terms=tf,
        loss_terms_grad=tg,
        loss_terms_hess=th,
    )


@lru_cache(maxsize=64)
def _loss_part(spec: str, K: int, backend: str) -> dict:
    from derive.primitives import loss

    obj = loss(spec)
    a, y = row_symbols(K)
    row = obj.row(a, y)
    sep = _separable_part(row, a, y, backend)
    if sep is not None:
        return dict(**sep, divisor=obj.divisor)
    grad = [sp.diff(row, ai) for ai in a]
    # DiracDelta (from sign/abs in mae, huber) is 0 almost everywhere: the a.e. Hessian, as torch gives.
    hess = [[sp.diff(gi, aj).replace(sp.DiracDelta, lambda *_: sp.S.Zero) for aj in a] for gi in grad]
    return dict(
        loss_rows=lambdify([*a, *y], row, backend),
        loss_grad_rows=lambdify([*a, *y], grad, backend),
        loss_hess_rows=lambdify([*a, *y], hess, backend),
        divisor=obj.divisor,
    )


@lru_cache(maxsize=256)
def compile_net(net: Net | MLP, backend: str = "numpy") -> Compiled:
    """Compile `net`'s kernel, activations and loss for `backend` ("numpy" or "torch").

    Parts are cached separately (kernel; loss per output width; each activation), so nets that
    differ only in widths share their compiled code.
    """
    if net.spatial:
        kpart = _kernel_part(net.kernel, net.kernel_params, backend)
    else:
        nan = float("nan")
        kpart = dict(g=None, dg=None, phi=None, dphi=None, g0=nan, dg0=nan, phi0=nan, d2g0=nan)
    acts = [net.f(l) for l in range(2, net.L + 1)]
    f = tuple(_activation_callable(a, backend) for a in acts)
    df = tuple(primitive_callables(a.deriv, X, backend) for a in acts)
    d2f = tuple(primitive_callables(sp.diff(a.deriv, X), X, backend) for a in acts)
    # the net's stated loss_reduction (or the loss's own; the same Loss object when none is stated)
    lpart = dict(_loss_part(net.loss, net.widths[-1], backend), divisor=net.objective.divisor)
    return Compiled(**kpart, f=f, df=df, d2f=d2f, **lpart)


def _activation_callable(a, backend: str) -> Callable:
    """f of activation `a`. On torch, where `a` states its subgradient at a kink (relu_grad_at_zero),
    autograd must differentiate to the stated f'(0): f(x) + (x - x.detach()) [x = 0] c with
    c = f'_stated(0) - f'_own(0) (exact, from SymPy) has f's value, the stated f' (the correction is 0
    off x = 0) and f's own second derivative."""
    fn = primitive_callables(a.expr, X, backend)
    if backend != "torch" or a.grad_at_zero is None or not a.kinked:
        return fn
    c = float(a.deriv.subs(X, 0) - replace(a, grad_at_zero=None).deriv.subs(X, 0))
    if c == 0:
        return fn

    def f(x):
        return fn(x) + (x - x.detach()) * (x.detach() == 0) * c

    return f
