"""The `Template` class: one primitive T(u_1..u_n) (a kernel, activation or loss) written once in SymPy,
whose partial derivatives dT/du_k are themselves templates, derived lazily by SymPy (or SymEngine) and
cached. The program's nodes ``T(args)`` (derive.symbolic.program) call templates; the kernel, activation and loss
instances are built in derive.symbolic.templates.

Derivatives are the almost-everywhere ones, as torch takes them: DiracDelta (from Abs/sign in mae,
huber) is replaced by 0. Exact constant partials (d.is_Rational) are returned as int/Fraction.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import sympy as sp

from derive.lambdify import lambdify

__all__ = ["Template", "drop_dirac"]


def drop_dirac(e: sp.Expr) -> sp.Expr:
    """`e` with every DiracDelta replaced by 0: the almost-everywhere derivative, as torch takes it."""
    # DiracDelta (from Abs/sign in mae, huber) is 0 almost everywhere.
    return e.replace(sp.DiracDelta, lambda *_: sp.S.Zero) if e.has(sp.DiracDelta) else e


class Template:
    """A primitive T(u_1..u_n): one SymPy expression in dummy arguments, with lazily derived partials.

    Attributes:
        name: label for reports (``"tanh"``, ``"d tanh/d u0"`` ...).
        args: the dummy SymPy symbols (real).
        expr: T as a SymPy expression of `args` (exact).
        diff_args: positions that are differentiated (targets y of a loss are data, not variables).
        backend: "sympy" or "symengine": which CAS differentiates `expr`.
        impl: optional {target: callable} overriding the lambdified code (kernel limits at r = 0).
        fixed_parts: optional explicit partials (list of Template or None) instead of differentiation.
    """

    def __init__(self, name, args, expr, diff_args=None, backend="sympy", impl=None, fixed_parts=None):
        self.name, self.args, self.expr = name, tuple(args), expr
        self.diff_args = tuple(range(len(args))) if diff_args is None else tuple(diff_args)
        self.backend, self.impl, self.fixed_parts = backend, impl or {}, fixed_parts
        self._parts: dict[int, object] = {}
        self._fn: dict[str, Callable] = {}
        self.used_fallback = False

    def part(self, k: int):
        """dT/du_k as a Template, an exact constant (int/Fraction), or None if identically 0."""
        if k not in self._parts:
            if self.fixed_parts is not None:
                p = self.fixed_parts[k]
                if p is None:
                    raise NotImplementedError(f"no partial derivative of {self.name} is available")
                self._parts[k] = p
            else:
                d = self._diff(self.args[k])
                if d.is_Rational:
                    self._parts[k] = _const(d)
                else:
                    self._parts[k] = Template(f"d{self.name}/d{self.args[k]}", self.args, d, self.diff_args, self.backend)
        return self._parts[k]

    def _diff(self, x: sp.Symbol) -> sp.Expr:
        if self.backend == "symengine":
            import symengine as se

            d = se.diff(se.sympify(self.expr), se.sympify(x))
            if "Derivative" not in str(d) and "Subs" not in str(d):
                # SymEngine drops SymPy's assumptions: map its symbols back to ours by name.
                back = sp.sympify(d._sympy_())
                names = {a.name: a for a in self.args}
                return drop_dirac(back.xreplace({s: names[s.name] for s in back.free_symbols if s.name in names}))
            # SymEngine leaves Abs' unevaluated; SymPy's a.e. derivative (sign) is the fallback.
            self.used_fallback = True
        return drop_dirac(sp.diff(self.expr, x))

    def fn(self, target: str) -> Callable:
        if target not in self._fn:
            if target in self.impl:
                self._fn[target] = self.impl[target]
            else:
                f = lambdify(list(self.args), self.expr, target)
                self._fn[target] = (lambda *a, _f=f: float(_f(*a))) if target == "numpy" else f
        return self._fn[target]


def _const(v) -> int | Fraction:
    v = sp.Rational(v)
    return int(v.p) if v.q == 1 else Fraction(int(v.p), int(v.q))
