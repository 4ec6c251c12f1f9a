"""Activations f(x), each defined once as a SymPy expression of `X`; f'(x) is derived from it.

ReLU is ``Piecewise((x, x > 0), (0, True))``: its derivative at 0 is 0, torch's convention
(``torch.relu`` backward uses ``x > 0``); leaky ReLU's derivative at 0 is ``alpha``, again as in torch.

A stated subgradient at the kink (``activation(spec, grad_at_zero=s)``, the spec key
``relu_grad_at_zero``) puts f'(0) = f'(0-) + s (f'(0+) - f'(0-)), s in [0, 1]: ReLU's f'(0) = s
(s = 1 is code written with ``x >= 0``), leaky ReLU's alpha + s (1 - alpha) (s = 0 is alpha, torch's).
Smooth activations have no kink and ignore it.

Public through derive.primitives (with kernels and losses).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache

import sympy as sp

from derive.errors import SpecError
from derive.parse import parse_spec, spec_values

__all__ = ["ACTIVATIONS", "Activation", "activation", "check_grad_at_zero", "X"]

X = sp.Symbol("x", real=True)


@dataclass(frozen=True)
class Activation:
    """f(x) and f'(x) for one activation, from a single SymPy definition."""

    name: str
    expr: sp.Expr
    params: tuple[tuple[str, float], ...] = ()
    grad_at_zero: float | None = None  # the stated subgradient at a kink at 0 (module docstring); None: torch's

    @cached_property
    def deriv(self) -> sp.Expr:
        """f'(x), simplified: the same function in a form without cancellation where f saturates
        (tanh' = 1 - tanh^2 becomes cosh^-2, exact to float64 at |x| = 30 where 1 - tanh^2 is 0;
        sigmoid' becomes 1/(4 cosh^2(x/2)), which cannot overflow to inf/inf)."""
        d = sp.diff(self.expr, X)
        if not isinstance(d, sp.Piecewise):
            return sp.simplify(d)
        if self.grad_at_zero is None:
            return d
        eps = sp.Symbol("eps", positive=True)
        left, right = (sp.limit(d.subs(X, side * eps), eps, 0, "+") for side in (-1, 1))
        at0 = sp.nsimplify(left + sp.Rational(repr(self.grad_at_zero)) * (right - left))
        return sp.Piecewise((at0, sp.Eq(X, 0)), *d.args)

    @property
    def kinked(self) -> bool:
        """f is piecewise (ReLU, leaky ReLU): a stated subgradient at 0 changes f'(0)."""
        return isinstance(self.expr, sp.Piecewise)

    def __call__(self, value: sp.Expr) -> sp.Expr:
        return self.expr.subs(X, value)


def _relu(alpha):
    return sp.Piecewise((X, X > 0), (alpha * X, True))


ACTIVATIONS: dict[str, tuple[Callable[..., sp.Expr], dict[str, float]]] = {
    "identity": (lambda: X, {}),
    "sigmoid": (lambda: 1 / (1 + sp.exp(-X)), {}),
    "tanh": (lambda: sp.tanh(X), {}),
    "relu": (lambda: _relu(0), {}),
    "leaky_relu": (lambda alpha: _relu(alpha), {"alpha": 0.01}),
    "softplus": (lambda: sp.log(1 + sp.exp(X)), {}),
    "gelu": (lambda: X / 2 * (1 + sp.erf(X / sp.sqrt(2))), {}),
}


@lru_cache(maxsize=128)
def activation(spec: str, grad_at_zero: float | None = None) -> Activation:
    """Build an activation from ``"tanh"``, ``"leaky_relu(alpha=0.1)"`` or ``"leaky_relu(0.1)"``;
    `grad_at_zero` (s in [0, 1]) states the subgradient at a kink at 0 (module docstring)."""
    name, given = parse_spec(spec, ACTIVATIONS)
    builder, defaults = ACTIVATIONS[name]
    values = spec_values(name, spec, defaults, given)
    args = [sp.Rational(repr(v)) for v in values.values()]
    return Activation(name, builder(*args), tuple(values.items()), check_grad_at_zero(grad_at_zero))


def check_grad_at_zero(value: float | None) -> float | None:
    """`value` as a float in [0, 1] (None stays None), else a SpecError."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise SpecError(
            f"relu_grad_at_zero is {value!r}; it must be a number in [0, 1]",
            "use 0 (torch's ReLU'(0)), 0.5 or 1 (code written with x >= 0)",
        )
    return float(value)
