"""Losses, each written once in SymPy for one row (``a_1..a_K`` predictions, ``y_1..y_K`` targets)
and reduced over the batch (and outputs) as stated by `Loss.reduction`: the total is
``sum_b row(a_b, y_b) / divisor(B, K)``.

Each loss has its own reduction (mse, mse_half, mae, huber, bce: "mean", divided by B K; softmax_ce:
"batchmean", divided by B; sse, sse_half: "sum", divided by 1). A stated ``loss_reduction`` (the
spec key; ``loss(spec, reduction)``) replaces it and leaves the row as it is:

    "mean"   sum_b row(a_b, y_b) / (B K)   mean over every element (today's mse, bce)
    "batch"  sum_b row(a_b, y_b) / B       mean over the batch, sum over the outputs (the textbook cost)
    "sum"    sum_b row(a_b, y_b)           sum over everything

so a half loss keeps its 1/2 (sse_half under "batch" is 1/(2B) sum (a - y)^2; mse_half under "sum" equals
sse_half; mse under "batch" is 1/B sum_b ||a_b - y_b||^2) and softmax_ce under "mean" is divided by B K.

Public through derive.primitives (with kernels and activations).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache

import sympy as sp

from derive.errors import SpecError
from derive.parse import parse_spec, spec_values

__all__ = ["LOSSES", "REDUCTIONS", "Loss", "RowLoss", "check_reduction", "loss"]

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


# The spec's loss_reduction names -> Loss.reduction.
REDUCTIONS = {"mean": "mean", "batch": "batchmean", "sum": "sum"}


def check_reduction(value: str | None) -> str | None:
    """A spec's loss_reduction ("mean", "batch", "sum" or None for the loss's own), else a SpecError."""
    if value is not None and value not in REDUCTIONS:
        raise SpecError(
            f"loss_reduction {value!r} is unknown",
            'use "mean" (over B K), "batch" (mean over the batch, sum over the outputs) or "sum"',
        )
    return value


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
def loss(spec: str, reduction: str | None = None) -> Loss:
    """Build a loss from ``"mse"``, ``"huber(delta=0.5)"``, ``"softmax_ce"`` ...; `reduction` ("mean",
    "batch", "sum"; module docstring) replaces the loss's own reduction, None keeps it."""
    if reduction is not None:
        check_reduction(reduction)
        return replace(loss(spec), reduction=REDUCTIONS[reduction])
    name, given = parse_spec(spec, LOSSES)
    reduction, builder, defaults = LOSSES[name]
    values = spec_values(name, spec, defaults, given)
    for k, v in values.items():
        if v <= 0:
            raise SpecError(f"loss parameter {k}={v} must be positive (in {spec!r})", f"give {k} a value > 0")
    return Loss(name, reduction, builder(*[sp.Rational(repr(v)) for v in values.values()]), tuple(values.items()))
