"""Numeric scans of a kernel over distances r >= 0, for the kernel audit (`derivcheck audit-kernel`).

Every function takes NumPy callables r -> values (the kernel's lambdified forms, from
`derive.audit_math.numeric_form`) and float64 grids; exact limits arrive as floats
(`derive.audit_math.Limit`: inf/-inf for infinite limits, nan when SymPy did not decide).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Sup", "grid", "evaluate", "sup_abs", "value_range", "dead_fraction"]

Fn = Callable[[np.ndarray], np.ndarray]


def grid(scales: Sequence[float], points: Sequence[float] = ()) -> np.ndarray:
    """Scan grid on [0, inf): 0, log-spaced 1e-8..1e4 times the kernel's scale (the largest of
    `scales` (parameter values), `points` and 1), a dense linear grid on [0, 20 * scale], and points
    just beside every breakpoint of `points`. Sorted, unique."""
    scale = max([abs(v) for v in scales if v] + [float(p) for p in points] + [1.0])
    parts = [np.zeros(1), np.logspace(-8, 4, 3000) * scale, np.linspace(0, 20 * scale, 8001)]
    for p in points:
        p = float(p)
        parts.append(p * (1 + np.concatenate([-np.logspace(-9, -2, 15), [0.0], np.logspace(-9, -2, 15)])))
    return np.unique(np.concatenate(parts))


def evaluate(fn: Fn, r: np.ndarray) -> np.ndarray:
    """fn at the float64 points r, shaped like r (NaN where it is undefined or complex; no warnings)."""
    with np.errstate(all="ignore"):
        try:
            out = np.asarray(fn(r), dtype=np.complex128)
        except (ZeroDivisionError, OverflowError, ValueError, TypeError):
            out = np.array([_one(fn, v) for v in r], dtype=np.complex128)
    out = np.broadcast_to(out, r.shape)
    return np.where(np.abs(out.imag) > 1e-12 * np.maximum(1, np.abs(out.real)), np.nan, out.real)


def _one(fn: Fn, v):
    try:
        return complex(fn(v))
    except (ZeroDivisionError, OverflowError, ValueError, TypeError):
        return complex(np.nan)


@dataclass
class Sup:
    """sup |f| on [0, inf): the value, where, and how it was decided."""

    value: float
    at: float
    how: str

    def as_dict(self) -> dict:
        return {"value": self.value, "at_r": self.at, "how": self.how}


def sup_abs(fn: Fn, r: np.ndarray, limits: Sequence[tuple[str, float, float, str]] = ()) -> Sup:
    """sup_{r >= 0} |fn|: the maximum over the grid `r` together with exact one-sided limits given
    as (label, r, value, text), e.g. ("0+", 0.0, g(0+), "1"); an infinite limit makes the supremum
    infinite, an undecided one (nan) is skipped."""
    vals = evaluate(fn, r)
    inner = r > 0
    # NaN where r^2 itself overflows float64 (r > 1e150: 0 * inf in the formula, a kernel with an
    # astronomically large scale) is a failed evaluation, not an infinite kernel: skipped, and said
    lost = inner & np.isnan(vals) & (r > 1e150)
    note = f"; float64 cannot evaluate it beyond r = {float(r[lost][0]):.3g} (skipped)" if lost.any() else ""
    inner = inner & ~lost
    bad = inner & ~np.isfinite(vals)
    if bad.any():
        return Sup(float("inf"), float(r[bad][0]), "numeric scan: not finite at this r")
    for label, at, value, text in limits:
        if np.isinf(value):
            return Sup(float("inf"), at, f"exact limit at r -> {label} is {text}")
    a = np.abs(np.where(inner, vals, 0.0))
    a[lost] = 0.0
    at0 = next((value for label, _, value, _ in limits if label == "0+"), float("nan"))
    if np.isfinite(at0):
        a[r <= 0] = abs(at0)
    i = int(np.argmax(a))
    labels = ", ".join(label for label, _, _, _ in limits) or "no point"
    return Sup(float(a[i]), float(r[i]), f"max over {r.size} grid points and the exact limits at {labels}{note}")


def value_range(fn: Fn, r: np.ndarray, at0: float = float("nan"), at_inf: float = float("nan")) -> tuple[float, float]:
    """(inf, sup) of fn on [0, inf): grid values with the exact limits at 0+ and infinity (nan: unknown)."""
    vals = evaluate(fn, r)
    allv = np.concatenate([vals[np.isfinite(vals) | np.isinf(vals)], np.array([at0, at_inf], dtype=float)])
    allv = allv[~np.isnan(allv)]
    return (float(allv.min()), float(allv.max())) if allv.size else (float("nan"), float("nan"))


def dead_fraction(
    dg: Fn,
    rng: np.random.Generator,
    dims=(1, 2, 3),
    scale: float = 1.5,
    n: int = 20000,
    rel: float = 1e-6,
    sup_dg: float | None = None,
) -> dict:
    """Fraction of edges whose coordinate gradient is exactly zero or negligible (|g'(r)| <= rel *
    sup |g'|) when both endpoints are uniform in [-scale, scale]^D (the default layout of
    `numeric.strategies.params_for`). `dg` is g' as a NumPy function of r.

    Returns:
        {"D=1": {"zero": fraction, "negligible": fraction}, ...} for each D in `dims`.
    """
    out = {}
    for D in dims:
        a, b = rng.uniform(-scale, scale, (n, D)), rng.uniform(-scale, scale, (n, D))
        r = np.sqrt(((a - b) ** 2).sum(axis=1))
        d = np.abs(evaluate(dg, r))
        top = sup_dg if sup_dg and np.isfinite(sup_dg) else float(np.nanmax(d))
        out[f"D={D}"] = {"zero": float(np.mean(d == 0)), "negligible": float(np.mean(d <= rel * top))}
    return out
