"""Activations f(x), each defined once as a SymPy expression of `X`; f'(x) is derived from it.

ReLU is ``Piecewise((x, x > 0), (0, True))``: its derivative at 0 is 0, torch's convention
(``torch.relu`` backward uses ``x > 0``); leaky ReLU's derivative at 0 is ``alpha``, again as in torch.

Public through derive.primitives (with kernels and losses).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache

import sympy as sp

from derive.parse import parse_spec, spec_values

__all__ = ["ACTIVATIONS", "Activation", "activation", "X"]

X = sp.Symbol("x", real=True)


@dataclass(frozen=True)
class Activation:
    """f(x) and f'(x) for one activation, from a single SymPy definition."""

    name: str
    expr: sp.Expr
    params: tuple[tuple[str, float], ...] = ()

    @cached_property
    def deriv(self) -> sp.Expr:
        """f'(x), simplified: the same function in a form without cancellation where f saturates
        (tanh' = 1 - tanh^2 becomes cosh^-2, exact to float64 at |x| = 30 where 1 - tanh^2 is 0;
        sigmoid' becomes 1/(4 cosh^2(x/2)), which cannot overflow to inf/inf)."""
        d = sp.diff(self.expr, X)
        return d if isinstance(d, sp.Piecewise) else sp.simplify(d)

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
def activation(spec: str) -> Activation:
    """Build an activation from ``"tanh"``, ``"leaky_relu(alpha=0.1)"`` or ``"leaky_relu(0.1)"``."""
    name, given = parse_spec(spec, ACTIVATIONS)
    builder, defaults = ACTIVATIONS[name]
    values = spec_values(name, spec, defaults, given)
    args = [sp.Rational(repr(v)) for v in values.values()]
    return Activation(name, builder(*args), tuple(values.items()))
