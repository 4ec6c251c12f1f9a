"""The program's primitives as templates (derive.symbolic.template.Template): the kernel G(s) = g(sqrt s) and its
two derivatives in s = r^2 (with their exact limits at s = 0), the penalty rho(sqrt s, w) and its
partials, each activation and each loss row. Cached per primitive, not per net.

Coincident nodes (r = 0): G'(s) = phi(r)/2 and G''(s) = phi'(r)/(4 r) (phi = g'/r, MATH.md
"Coincident nodes"); at s = 0 their limits are taken symbolically, or the call raises the
coincidence error where the derivative does not exist.
"""

from __future__ import annotations

from functools import lru_cache

import mpmath
import sympy as sp

from derive.compiled import row_symbols
from derive.decide import finite
from derive.errors import SpecError, coincidence_error
from derive.lambdify import lambdify
from derive.net import Net
from derive.primitives import R, X
from derive.symbolic.template import Template

__all__ = ["S", "kernel_templates", "penalty_template", "weight_penalty_template"]

S = sp.Symbol("s2", nonnegative=True)  # the squared distance r^2


# -- primitives as templates ------------------------------------------------------------------------
def kernel_templates(net: Net, backend: str = "sympy") -> tuple[Template, Template, Template]:
    """Templates G0(s) = g(sqrt s), G1 = G0' = phi(r)/2, G2 = G1' = psi(r)/4 (psi = phi'(r)/r), s = r^2,
    with their exact limits at s = 0 used when the argument is exactly 0 (cached per kernel, not per net)."""
    return _kernel_templates(net.kernel, net.kernel_params, backend)


@lru_cache(maxsize=64)
def _kernel_templates(name, params, backend):
    from derive.primitives import kernel

    k = kernel(name, params)
    sq = sp.sqrt(S)
    exprs = (k.bound.subs(R, sq), (k.phi / 2).subs(R, sq), (k.psi / 4).subs(R, sq))
    # Values at s = 0 (None: undefined there, the call raises the coincidence error). G2 only
    # multiplies the tangent of r^2, which is exactly 0 at coincident nodes: where psi(0) is infinite
    # but the Hessian exists (lim r phi'(r) = 0), 0 is its value.
    at0 = (k.g0, k.phi0 / 2 if k.phi0_finite else None, k.psi0 / 4 if finite(k.psi0) else (sp.S.Zero if k.hessian_at_0 else None))

    def impl(i):
        out = {target: _with_limit(lambdify([S], exprs[i], target), at0[i], target, k, i) for target in ("numpy", "mpmath")}
        out["arb"] = _lazy(lambda: _with_limit(lambdify([S], exprs[i], "arb"), at0[i], "arb", k, i))
        return out

    t2 = Template("G2", [S], exprs[2], backend=backend, impl=impl(2), fixed_parts=[None])
    t1 = Template("G1", [S], exprs[1], backend=backend, impl=impl(1), fixed_parts=[t2])
    t0 = Template("G0", [S], exprs[0], backend=backend, impl=impl(0), fixed_parts=[t1])
    for t, n in zip((t0, t1, t2), ("G0", "G1", "G2")):
        t.name = n
    return t0, t1, t2


def _lazy(make):
    """A callable built by `make` on its first call (the arb code of a template is printed only when
    the arb truth runs; `ArbUnsupported` then surfaces where that truth can fall back to mpmath)."""
    cell: list = []

    def call(*args):
        if not cell:
            cell.append(make())
        return cell[0](*args)

    return call


def _with_limit(f, at0, target, k, order):
    """`f` with the value `at0` at s = 0 (or the coincidence error of kernel `k` when it is None).
    On arb balls, s == 0 holds only for the exact point 0; a ball merely containing 0 goes through
    `f`, whose ball then says how much is known there (NaN or a wide radius: undecided)."""
    if target == "arb":
        v0 = None if at0 is None else lambdify([], at0, "arb")

        def arb_call(s):
            if s == 0:
                if v0 is None:
                    raise kernel_coincidence_error(k, order)
                return v0()
            return f(s)

        return arb_call
    if target == "mpmath":

        def call(s):
            if s == 0:
                if at0 is None:
                    raise kernel_coincidence_error(k, order)
                return +mpmath.mpf(mpmath.mpmathify(sp.N(at0, mpmath.mp.dps + 10)))
            return f(s)
    else:
        v0 = None if at0 is None else float(at0)

        def call(s):
            if s == 0:
                if v0 is None:
                    raise kernel_coincidence_error(k, order)
                return v0
            return float(f(s))

    return call


@lru_cache(maxsize=64)
def penalty_template(pen, backend: str = "sympy") -> Template:
    """P(s, w) = rho(sqrt s, w) (s = r^2) and its partials to second order, as templates:
    P_s = phi/2, P_w = rho_w, P_ss = psi/4, P_sw = phi_w/2, P_ww = rho_ww (derive.primitives.penalty's `d`).
    At s = 0 their limits (functions of w) are used, or the penalty's coincidence error is raised
    where dJ/dz does not exist there; P_ss only multiplies the tangent of s, which is 0 there."""
    from derive.primitives.penalty import WW, coincidence_error

    sq = sp.sqrt(S)
    d, at0 = pen.d, pen.at0
    ok = pen.gradient_at_0

    def make(name, expr, zero, parts):
        if expr == 0 and zero in (0, None):
            return 0  # an exactly-zero partial: an exact constant for the program, no node

        def impl(target):
            f = lambdify([S, WW], expr.subs(R, sq), target)
            f0 = None if zero is None else lambdify([WW], zero, target)

            def call(s, w):
                if s == 0:
                    if f0 is None or not ok and name != "P":
                        raise coincidence_error(pen, "two nodes of adjacent layers")
                    v = f0(w)
                else:
                    v = f(s, w)
                return float(v) if target == "numpy" else v

            return call

        impls = {tg: impl(tg) for tg in ("numpy", "mpmath")}
        impls["arb"] = _lazy(lambda: impl("arb"))
        t = Template(name, [S, WW], expr.subs(R, sq), backend=backend, impl=impls, fixed_parts=parts)
        t.name = name
        return t

    dphi0 = None if at0["phi"] is None else sp.diff(at0["phi"], WW)
    pss = make("P_ss", d["psi"] / 4, sp.S.Zero, [None, None])
    psw = make("P_sw", d["phi_w"] / 2, None if dphi0 is None else dphi0 / 2, [None, None])
    pww = make("P_ww", d["rho_ww"], at0["rho_ww"], [None, None])
    ps = make("P_s", d["phi"] / 2, None if at0["phi"] is None else at0["phi"] / 2, [pss, psw])
    pw = make("P_w", d["rho_w"], at0["rho_w"], [psw, pww])
    return make("P", d["rho"], at0["rho"], [ps, pw])


@lru_cache(maxsize=64)
def weight_penalty_template(pen, backend: str = "sympy") -> Template:
    """P(w) = rho(w) of a penalty on an MLP's weights (rho in w alone: derive.net.MLP refuses r), with
    its partials by plain differentiation: P_w = rho_w, P_ww = rho_ww. |w| differentiates to sign(w),
    0 at w = 0 (the subgradient of derive.primitives.penalty's docstring, torch's)."""
    from derive.primitives.penalty import WW

    t = Template("P", [WW], pen.expr, backend=backend)
    t.name = "P"
    return t


def kernel_coincidence_error(k, order: int, where: str = "two nodes of adjacent layers") -> SpecError:
    """The coincidence error of `k`, a Net or Kernel (derive.errors.coincidence_error)."""
    return coincidence_error(k.g if isinstance(k, Net) else k, where, order)


@lru_cache(maxsize=128)
def activation_template(spec: str, backend: str, grad_at_zero: float | None = None) -> Template | None:
    """The template of activation `spec` (f(x), with f' the primitive's own derivative, at a kink the
    stated subgradient `grad_at_zero`: derive.primitives.activations); None for identity."""
    from derive.primitives import activation

    a = activation(spec, grad_at_zero)
    if a.expr == X:
        return None  # identity: a = h, no node
    # f' is the primitive's own simplified derivative (cosh^-2 for tanh, not 1 - tanh^2): even at 50
    # digits 1 - tanh(60)^2 cancels to 0, while the true value is ~4e-52.
    d1 = Template(f"d{a.name}/dx", [X], a.deriv, backend=backend)  # differentiated further as usual
    return Template(a.name, [X], a.expr, backend=backend, fixed_parts=[d1])


@lru_cache(maxsize=64)
def loss_template(spec: str, K: int, backend: str) -> Template:
    """The template of loss `spec` on one row: row(a_1..a_K, y_1..y_K), differentiated in a only."""
    from derive.primitives import loss

    a, y = row_symbols(K)
    return Template(spec, [*a, *y], loss(spec).row(a, y), diff_args=range(K), backend=backend)
