"""The one door from exact SymPy to floats: `lambdify` with ``cse=True``, for a named backend.

Backends are rows of one table, as in SymPy's own `MODULES`: ``"numpy"``, ``"torch"`` and
``"mpmath"`` (50-digit ground truth). `derive` never imports torch itself: SymPy's printer does, only
when a torch callable is requested by `numeric.autograd`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import sympy as sp

from derive.errors import SpecError

__all__ = ["BACKENDS", "lambdify", "primitive_callables", "elementwise"]

BACKENDS = {
    "numpy": ["scipy", "numpy"],  # scipy for erf (gelu), numpy for the rest
    "torch": ["torch"],
    "mpmath": ["mpmath"],
}


def lambdify(args: Sequence[sp.Symbol], expr, backend: str = "numpy"):
    """Compile `expr` (an expression or a list of them) of `args` for `backend`, with common
    subexpression elimination. The generated source is in the function's docstring."""
    if backend not in BACKENDS:
        raise SpecError(f"unknown backend {backend!r}", f"use one of {', '.join(BACKENDS)}")
    if backend == "torch":
        # SymPy's torch printer emits torch.sqrt(2) for the constant sqrt(2); torch functions need
        # tensors, so closed-form constants become 30-digit floats (exact to float64).
        expr = _float_constants(expr)
    return sp.lambdify(list(args), expr, modules=BACKENDS[backend], cse=True)


def _float_constants(expr):
    if isinstance(expr, (list, tuple)):
        return type(expr)(_float_constants(e) for e in expr)
    return expr.replace(lambda e: e.is_number and not e.is_Atom and not e.is_Rational, lambda e: sp.Float(sp.N(e, 30), 30))


def elementwise(fn):
    """Wrap a one-variable callable so its result always has the argument's shape and dtype
    (a constant derivative such as identity's 1 comes back as an array of ones)."""

    def call(x):
        out = fn(x)
        if hasattr(x, "new_full"):  # a torch tensor, without importing torch here
            if not hasattr(out, "shape") or out.shape != x.shape or out.dtype != x.dtype:
                return x.new_zeros(x.shape) + out
            return out
        import numpy as np

        return np.broadcast_to(np.asarray(out, dtype=np.result_type(x, np.float32)), np.shape(x))

    call.__doc__ = fn.__doc__
    return call


@lru_cache(maxsize=512)
def primitive_callables(expr: sp.Expr, var: sp.Symbol, backend: str):
    """Cached single-variable callable (kernels, activations and their derivatives).

    On the numpy backend, large float64 arrays go through the same expression printed for numexpr
    (one multithreaded pass; derive.fused) when numexpr can express it."""
    fn = elementwise(lambdify([var], expr, backend))
    if backend != "numpy":
        return fn
    from derive.fused import FUSED_MIN_SIZE, fused_elementwise

    fast = fused_elementwise(expr, var)
    if fast is None:
        return fn

    def call(x):
        if getattr(x, "dtype", None) == _FLOAT64 and x.size >= FUSED_MIN_SIZE:
            return fast(x)
        return fn(x)

    call.__doc__ = fn.__doc__
    return call


_FLOAT64 = "float64"  # numpy dtypes compare equal to their names; derive does not import numpy here
