"""A kernel layer W = g(R), P = phi(R) compiled into single fused, multithreaded passes (numexpr).

The NumPy route evaluates a layer in several N x N passes: D differences, squares and sums, a
square root, then g and phi (each a pass or more). Here SymPy rewrites g and phi as functions of
the coordinates themselves,

    W_ij = g(sqrt(sum_d (zl_id - zp_jd)^2)),

(an even kernel such as the Gaussian loses the square root: exp(-r^2/s^2) becomes exp(-dd/s^2))
and numexpr evaluates each expression in one blocked pass over the N x N result on every core,
with no N x N temporaries. Same definition, one printer: the strings come from the kernel's SymPy
expressions, never from user text.

Coincident nodes (dd = 0) are not special-cased here: a formula singular there (0/0 in sin(r)/r,
g'(r)/r when g'(0) != 0) yields NaN or inf, and the engine falls back to its careful route, which
takes limits or raises the one-line error.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp
from sympy.printing.lambdarepr import NumExprPrinter

__all__ = ["FusedKernel", "fused_kernel", "fused_elementwise"]


def _numexpr_text(expr: sp.Expr) -> str:
    # numexpr knows no `math.pi` and must not see integer division: every non-integer constant
    # becomes a 17-digit float literal (exact to float64, like the NumPy printer's constants)
    expr = expr.replace(lambda e: e.is_number and not e.is_Integer and not isinstance(e, sp.Float),
                        lambda e: sp.Float(sp.N(e, 17), 17))
    return NumExprPrinter()._print(expr)


@dataclass(frozen=True)
class FusedKernel:
    """Fused float64 evaluation of one kernel for coordinates in D dimensions.

    Attributes:
        g, phi, psi: numexpr source of g, phi = g'/r and psi = phi'/r (second order) in the names
            a0..a(D-1) (rows of Z_l, as N_l x 1 columns) and b0..b(D-1) (rows of Z_(l-1), as
            1 x N_(l-1) rows).
        dim: D.
    """

    g: str
    phi: str
    psi: str
    dim: int

    def _names(self, Zl, Zp) -> dict:
        names = {f"a{d}": Zl[:, d:d + 1] for d in range(self.dim)}
        names.update({f"b{d}": Zp[None, :, d] for d in range(self.dim)})
        return names

    def weights(self, Zl, Zp, out):
        """W = g(R) into `out` (N_l x N_(l-1) float64), one pass."""
        import numexpr

        return numexpr.evaluate(self.g, local_dict=self._names(Zl, Zp), out=out, casting="same_kind")

    def phi_of(self, Zl, Zp, out):
        """phi(R) = g'(R)/R into `out` (N_l x N_(l-1) float64), one pass."""
        import numexpr

        return numexpr.evaluate(self.phi, local_dict=self._names(Zl, Zp), out=out, casting="same_kind")

    def psi_of(self, Zl, Zp, out):
        """psi(R) = phi'(R)/R into `out` (N_l x N_(l-1) float64), one pass."""
        import numexpr

        return numexpr.evaluate(self.psi, local_dict=self._names(Zl, Zp), out=out, casting="same_kind")


@lru_cache(maxsize=64)
def fused_kernel(g: sp.Expr, phi: sp.Expr, r: sp.Symbol, dim: int) -> FusedKernel | None:
    """The fused form of kernel expressions g(r), phi(r) (and psi = phi'(r)/r) for D = `dim`; None
    if numexpr cannot express them (a function it lacks), so callers keep the NumPy route."""
    try:
        import numexpr
    except ImportError:  # pragma: no cover - numexpr is a dependency; keep the NumPy route if absent
        return None
    dd = sp.Symbol("dd", nonnegative=True)
    a = sp.symbols(f"a0:{dim}", real=True)
    b = sp.symbols(f"b0:{dim}", real=True)
    squared = sp.Add(*[(ai - bi) ** 2 for ai, bi in zip(a, b)])
    texts = []
    for e in (g, phi, sp.diff(phi, r) / r):
        # r = sqrt(dd) first, so SymPy cancels sqrt(dd)^2 = dd before the coordinates go in
        e = e.subs(r, sp.sqrt(dd)).subs(dd, squared)
        try:
            texts.append(_numexpr_text(e))
        except Exception:  # the printer rejects functions numexpr lacks (erf, Bessel, ...)
            return None
    try:  # numexpr validates the source: an unsupported function fails here, once, at compile time
        import numpy as np

        for t in texts:
            numexpr.evaluate(t, local_dict={f"{s}{d}": np.zeros((1, 1)) for s in "ab" for d in range(dim)})
    except Exception:
        return None
    return FusedKernel(g=texts[0], phi=texts[1], psi=texts[2], dim=dim)


FUSED_MIN_SIZE = 1 << 16  # below this many elements numexpr's start-up costs more than it saves


@lru_cache(maxsize=512)
def fused_elementwise(expr: sp.Expr, var: sp.Symbol):
    """A float64 callable x -> expr(x) evaluated by numexpr on every core, or None when numexpr
    cannot express `expr` (erf, ...) or `expr` is constant. Activations and their derivatives on
    B x N arrays use it; small arrays stay with the NumPy lambdified form (see FUSED_MIN_SIZE)."""
    try:
        import numexpr
        import numpy as np
    except ImportError:  # pragma: no cover
        return None
    if not expr.has(var):
        return None
    x = sp.Symbol("x", real=True)
    try:
        text = _numexpr_text(expr.xreplace({var: x}))
        probe = numexpr.evaluate(text, local_dict={"x": np.zeros(3)})
    except Exception:  # the printer or numexpr rejects a function numexpr lacks
        return None
    if probe.dtype != np.float64 or probe.shape != (3,):  # e.g. where(x > 0, 1, 0) is an int array
        return None

    def call(v):
        return numexpr.evaluate(text, local_dict={"x": v})

    call.__doc__ = f"numexpr: {text}"
    return call
