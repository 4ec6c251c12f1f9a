"""The ground truth in ball arithmetic (Arb, through python-flint): the same exact gradient program
(derive.symbolic.build) printed for the "arb" row of derive.lambdify and run on balls, so every value
comes with a rigorous radius.

A value is *decided* when its radius is at most `REL_RADIUS` (1e-30) times its scale, the largest of
|midpoint|, the largest |midpoint| of its array (dW of one layer, delta of one layer, ...) and the
problem's scale (the largest |midpoint| of every quantity, as numeric.compare's noise floor): far
below float64 resolution at that scale, so the float64 midpoint is the float64 truth. Where some value
is not decided (a ReLU pre-activation, |w| or a huber residual whose ball holds the kink: the branches
are united, so the ball is wide; catastrophic cancellation), the program runs again at twice, then
four times the digits; still undecided, `Undecided` (a `SpecError`) says which value and why instead
of trusting a number. An input exactly on a kink is a point (radius 0), the condition is decided and
the stated subgradient holds (ReLU'(0) = 0, d|w|/dw = 0 at w = 0).
"""

from __future__ import annotations

import mpmath
import numpy as np

from derive.errors import SpecError

__all__ = ["Undecided", "REL_RADIUS", "run_balls", "decided", "to_mpf"]

REL_RADIUS = 1e-30  # a radius below this times the value's scale is far below float64 resolution


class Undecided(SpecError):
    """A truth value whose ball is too wide at the highest precision tried: undecided at this precision.

    Attributes:
        what: the value ("dW of layer 2, entry (1, 2)"). dps: the digits last tried. rel: its relative radius.
    """

    def __init__(self, what: str, dps: int, rel: float, ball: str):
        self.what, self.dps, self.rel = what, dps, rel
        super().__init__(
            f"the exact {what} is undecided at {dps} digits: its ball {ball} has relative radius {rel:.2g} "
            "(a kink such as ReLU at 0, |w| at 0 or a huber edge inside the ball, or cancellation)",
            "move the inputs off the kink, or put them exactly on it (a point takes the stated subgradient)",
        )


def run_balls(fn, values, dps: int):
    """Run the arb program `fn` on the float64 `values` (exact as balls of radius 0) at `dps` digits:
    the list of output balls."""
    from flint import arb, ctx

    old = ctx.prec
    try:
        ctx.dps = dps
        return [arb(v) for v in fn(*[arb(float(v)) for v in values])]
    finally:
        ctx.prec = old


def decided(name: str, arr, floor: float = 0.0) -> tuple[str, float, str] | None:
    """None when every ball of `arr` (an object array of arb, or one arb) is decided; else the
    worst one as (label, relative radius, ball text). `floor`: the problem's scale (the largest
    |midpoint| of every quantity): a value exactly 0 by cancellation (db = sum of rows that cancel) is a
    ball around 0 whose radius is far below float64 resolution at that scale, hence decided."""
    a = np.asarray(arr, dtype=object).reshape(-1)
    if a.size == 0:
        return None
    mids = np.array([abs(float(v.mid())) for v in a])
    rads = np.array([float(v.rad()) for v in a])
    finite = np.array([v.is_finite() for v in a])
    scale = np.maximum(mids, max(mids.max(initial=0.0), floor))
    ok = finite & (rads <= REL_RADIUS * scale)
    if ok.all():
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(finite, rads / scale, np.inf)
    rel = np.where(np.isnan(rel), np.inf, rel)
    k = int(np.argmax(np.where(ok, -1.0, rel)))
    where = "" if np.ndim(arr) == 0 else f", entry {tuple(int(i) + 1 for i in np.unravel_index(k, np.shape(arr)))}"
    return f"{name}{where}", float(rel[k]), a[k].str(5, radius=True)


def to_mpf(v) -> mpmath.mpf:
    """The midpoint of ball `v` as an mpmath number (exact: an arb midpoint is a binary float)."""
    m, e = v.mid().man_exp()
    return mpmath.mpf((int(m), int(e)))
