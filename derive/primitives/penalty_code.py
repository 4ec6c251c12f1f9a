"""Code generated from a penalty's exact derivatives (derive.primitives.penalty), through the one door to
floats (derive.lambdify): the numexpr source of the manual engine's fused pass (`fused_source`) and
lambdified callables for NumPy or torch (`callables`), each cached per penalty."""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from derive.lambdify import lambdify, numexpr_source
from derive.primitives.penalty import RW, WW, Penalty

__all__ = ["fused_source", "callables"]


@lru_cache(maxsize=256)
def fused_source(p: Penalty) -> dict[str, str] | None:
    """numexpr source of rho, rho_w and phi = rho_r / r in the names dd (= r^2) and W, for the manual
    engine's fused pass ("" for an identically zero one); None when numexpr cannot express one (sign,
    erf, ...)."""
    dd, Wn = sp.Symbol("dd", nonnegative=True), sp.Symbol("W", real=True)
    out = {}
    for k in ("rho", "rho_w", "phi"):
        e = p.d[k].subs(RW, sp.sqrt(dd)).xreplace({WW: Wn})
        if e == 0:
            out[k] = ""  # identically zero: the engine skips the term
            continue
        # the cheaper of the two forms (phi of (s (r - q0))^2: one division by sqrt(dd), not two powers)
        e = min((e, sp.expand(e)), key=sp.count_ops)
        if e.is_number:
            e = e + 0 * dd  # a constant: broadcast over the layer
        # constants become 17-digit floats (no integer division in numexpr), exponents stay exact
        # (sqrt(dd) prints as numexpr's sqrt, not a power)
        text = numexpr_source(e, ("dd", "W"), exact_powers=True)
        if text is None:
            return None
        out[k] = text
    return out


def _broadcast(fn, nargs):
    def call(*args):
        out = fn(*args)
        zero = args[0] * 0
        for a in args[1:]:
            zero = zero + a * 0
        return zero + out

    return call


@lru_cache(maxsize=64)
def callables(p: Penalty, backend: str = "numpy") -> dict:
    """{name: f(r, w)} for the names of `p.d`, plus NAME0: f(w) for the limits of `p.at0` (None where
    infinite), broadcast to the arguments' shape; cached per penalty and backend."""
    out = {k: _broadcast(lambdify([RW, WW], e, backend), 2) for k, e in p.d.items()}
    for k, v in p.at0.items():  # "rho0", "phi0" ...: values where nodes coincide, functions of w
        out[k + "0"] = None if v is None else _broadcast(lambdify([WW], v, backend), 1)
    return out
