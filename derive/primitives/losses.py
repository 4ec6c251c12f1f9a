"""Losses, each written once in SymPy for one row (``a_1..a_K`` predictions, ``y_1..y_K`` targets)
and reduced over the batch (and outputs) as stated by `Loss.reduction`: the total is
``sum_b row(a_b, y_b) / divisor(B, K)``.

Public through derive.primitives (with kernels and activations).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import sympy as sp

from derive.errors import SpecError
from derive.parse import parse_spec, spec_values

__all__ = ["LOSSES", "Loss", "RowLoss", "loss"]

# A row loss: (predictions a_1..a_K, targets y_1..y_K) -> the row's contribution.
RowLoss = Callable[[list[sp.Expr], list[sp.Expr]], sp.Expr]


@dataclass(frozen=True)
class Loss:
    """A loss of one row of predictions against one row of targets, with a batch reduction.

    `row(a, y)` is the row's contribution; the total is
    ``sum over rows of row(a_b, y_b) / divisor(B, K)`` where divisor is B*K for "mean" losses over
    all elements, B for "batchmean" losses (row losses such as softmax cross-entropy), 1 for "sum".
    """

    name: str
    reduction: str  # "mean" | "batchmean" | "sum"
    builder: RowLoss = field(repr=False)
    params: tuple[tuple[str, float], ...] = ()

    def row(self, a: list[sp.Expr], y: list[sp.Expr]) -> sp.Expr:
        return self.builder(a, y)

    def divisor(self, batch: int, outputs: int) -> int:
        return {"mean": batch * outputs, "batchmean": batch, "sum": 1}[self.reduction]


def _huber(delta):
    def row(a, y):
        return sp.Add(
            *[
                sp.Piecewise(((ai - yi) ** 2 / 2, sp.Abs(ai - yi) <= delta), (delta * (sp.Abs(ai - yi) - delta / 2), True))
                for ai, yi in zip(a, y)
            ]
        )

    return row


def _softmax_ce(a, y):
    lse = sp.log(sp.Add(*[sp.exp(ai) for ai in a]))
    return sp.Add(*[yi * (lse - ai) for ai, yi in zip(a, y)])


LOSSES: dict[str, tuple[str, Callable[..., RowLoss], dict[str, float]]] = {
    "mse": ("mean", lambda: lambda a, y: sp.Add(*[(ai - yi) ** 2 for ai, yi in zip(a, y)]), {}),
    # mse_half = 1/(2 B K) sum (a - y)^2: half the mean squared error (the notebook-style models' loss)
    "mse_half": ("mean", lambda: lambda a, y: sp.Add(*[(ai - yi) ** 2 for ai, yi in zip(a, y)]) / 2, {}),
    "sse_half": ("sum", lambda: lambda a, y: sp.Add(*[(ai - yi) ** 2 for ai, yi in zip(a, y)]) / 2, {}),
    "sse": ("sum", lambda: lambda a, y: sp.Add(*[(ai - yi) ** 2 for ai, yi in zip(a, y)]), {}),
    "mae": ("mean", lambda: lambda a, y: sp.Add(*[sp.Abs(ai - yi) for ai, yi in zip(a, y)]), {}),
    "huber": ("mean", _huber, {"delta": 1.0}),
    "bce": ("mean", lambda: lambda a, y: sp.Add(*[-(yi * sp.log(ai) + (1 - yi) * sp.log(1 - ai)) for ai, yi in zip(a, y)]), {}),
    "softmax_ce": ("batchmean", lambda: _softmax_ce, {}),
}


@lru_cache(maxsize=64)
def loss(spec: str) -> Loss:
    """Build a loss from ``"mse"``, ``"huber(delta=0.5)"``, ``"softmax_ce"`` ..."""
    name, given = parse_spec(spec, LOSSES)
    reduction, builder, defaults = LOSSES[name]
    values = spec_values(name, spec, defaults, given)
    for k, v in values.items():
        if v <= 0:
            raise SpecError(f"loss parameter {k}={v} must be positive (in {spec!r})", f"give {k} a value > 0")
    return Loss(name, reduction, builder(*[sp.Rational(repr(v)) for v in values.values()]), tuple(values.items()))
