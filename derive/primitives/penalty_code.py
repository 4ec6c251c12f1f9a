"""Code generated from a penalty's exact derivatives (derive.primitives.penalty): the numexpr source of the manual
engine's fused pass (`fused_source`) and lambdified callables for NumPy or torch (`callables`)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import sympy as sp

from derive.lambdify import lambdify
from derive.primitives.penalty import RW, WW

if TYPE_CHECKING:
    from derive.primitives.penalty import Penalty

__all__ = ["fused_source", "callables"]


def fused_source(p: Penalty) -> dict[str, str] | None:
    """numexpr source of rho, rho_w and phi = rho_r / r in the names dd (= r^2) and W ("" for an
    identically zero one); None when numexpr cannot express one (sign, erf, ...)."""
    import numexpr
    import numpy as np
    from sympy.printing.lambdarepr import NumExprPrinter

    dd, Wn = sp.Symbol("dd", nonnegative=True), sp.Symbol("W", real=True)
    out = {}
    for k in ("rho", "rho_w", "phi"):
        e = p.d[k].subs(RW, sp.sqrt(dd)).xreplace({WW: Wn})
        if e == 0:
            out[k] = ""  # identically zero: the engine skips the term
            continue
        # the cheaper of the two forms (phi of (s (r - q0))^2: one division by sqrt(dd), not two powers)
        e = min((e, sp.expand(e)), key=sp.count_ops)
        # constants become 17-digit floats (no integer division in numexpr), exponents stay exact
        # (sqrt(dd) prints as numexpr's sqrt, not a power)
        exps = {x.exp for x in e.atoms(sp.Pow)}
        e = e.xreplace(
            {
                x: sp.Float(sp.N(x, 17), 17)
                for x in e.atoms(sp.Number)
                if not x.is_Integer and not isinstance(x, sp.Float) and x not in exps
            }
        )
        if e.is_number:
            e = e + 0 * dd  # a constant: broadcast over the layer
        try:
            text = NumExprPrinter()._print(e)
            probe = numexpr.evaluate(text, local_dict={"dd": np.full(3, 0.5), "W": np.full(3, 0.5)})
        except Exception:
            return None
        if probe.dtype != np.float64 or probe.shape != (3,):
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
