"""A kernel layer W = g(R), P = phi(R) as one exact distance pass and one fused, multithreaded pass.

The NumPy route evaluates a layer in several N x N passes: D differences, squares and sums, a
square root, then g and phi (each a pass or more). Here SymPy rewrites g, phi = g'/r and psi = phi'/r
as functions of the squared distance dd = r^2 (an even kernel loses the square root: exp(-r^2/s^2)
becomes exp(-dd/s^2)) and prints them for numexpr, which evaluates each in one blocked pass on every
core, in place, with no N x N temporaries. dd itself comes from scipy's `cdist(..., "sqeuclidean")`:
sum_d (z_id - z'_jd)^2 one dimension at a time, exact near r = 0 (never the Gram form
|z|^2 + |z'|^2 - 2 z.z', which cancels), row blocks on all cores. Same definition, one printer:
the strings come from the kernel's SymPy expressions, never from user text.

Coincident nodes (dd = 0) are not special-cased here: a formula singular there (0/0 in sin(r)/r,
g'(r)/r when g'(0) != 0) yields NaN or inf, and the engine falls back to its careful route, which
takes limits or raises the one-line error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import sympy as sp
from sympy.printing.lambdarepr import NumExprPrinter

__all__ = ["FusedKernel", "fused_kernel", "fused_elementwise", "squared_distances"]


def _numexpr_text(expr: sp.Expr, name: str) -> str | None:
    """numexpr source of `expr` in the one variable `name`, or None when the printer or numexpr
    rejects it (a function numexpr lacks: erf, Bessel, ...) or it does not give float64 elementwise
    (where(x > 0, 1, 0) is an int array). Checked once, here, on a probe array."""
    import numexpr
    import numpy as np

    # numexpr knows no `math.pi` and must not see integer division: every non-integer constant
    # becomes a 17-digit float literal (exact to float64, like the NumPy printer's constants)
    expr = expr.replace(
        lambda e: e.is_number and not e.is_Integer and not isinstance(e, sp.Float), lambda e: sp.Float(sp.N(e, 17), 17)
    )
    try:
        text = NumExprPrinter()._print(expr)
        probe = numexpr.evaluate(text, local_dict={name: np.ones(3)})
    except Exception:
        return None
    return text if probe.dtype == np.float64 and probe.shape == (3,) else None


_POOL: list = []


def squared_distances(Zl, Zp, out):
    """dd_ij = sum_d (Zl_id - Zp_jd)^2 into `out` (N_l x N_(l-1) float64), the sum taken one
    dimension at a time in order (as numeric.manual.distances does), row blocks in parallel threads
    (scipy's cdist releases the GIL)."""
    from scipy.spatial.distance import cdist

    n = Zl.shape[0]
    threads = min(os.cpu_count() or 1, 8, max(1, n // 256))
    if threads == 1:
        return cdist(Zl, Zp, "sqeuclidean", out=out)
    if not _POOL:
        from concurrent.futures import ThreadPoolExecutor

        _POOL.append(ThreadPoolExecutor(threads, thread_name_prefix="derivcheck-cdist"))
    step = -(-n // threads)

    def block(i0):
        cdist(Zl[i0 : i0 + step], Zp, "sqeuclidean", out=out[i0 : i0 + step])

    list(_POOL[0].map(block, range(0, n, step)))
    return out


@dataclass(frozen=True)
class FusedKernel:
    """Fused float64 evaluation of one kernel.

    Attributes:
        g, phi, psi: numexpr source of g, phi = g'/r and psi = phi'/r (second order) in the one
            name dd (squared distances).
    """

    g: str
    phi: str
    psi: str

    def _eval(self, text, Zl, Zp, out, dd=None):
        import numexpr

        if dd is None:
            dd = squared_distances(Zl, Zp, out)
        # in place when out is dd: numexpr writes each block only after reading it
        return numexpr.evaluate(text, local_dict={"dd": dd}, out=out, casting="same_kind")

    def weights(self, Zl, Zp, out):
        """W = g(R) (N_l x N_(l-1) float64) into `out`: one distance pass, one kernel pass."""
        return self._eval(self.g, Zl, Zp, out)

    def phi_of(self, Zl, Zp, out):
        """phi(R) = g'(R)/R into `out`."""
        return self._eval(self.phi, Zl, Zp, out)

    def psi_of(self, Zl, Zp, out):
        """psi(R) = phi'(R)/R into `out`."""
        return self._eval(self.psi, Zl, Zp, out)

    def layer(self, Zl, Zp, W_out, P_out):
        """W = g(R) and phi(R) from one distance pass (into P_out, then overwritten by phi)."""
        dd = squared_distances(Zl, Zp, P_out)
        self._eval(self.g, Zl, Zp, W_out, dd)
        self._eval(self.phi, Zl, Zp, P_out, dd)
        return W_out, P_out


@lru_cache(maxsize=64)
def fused_kernel(g: sp.Expr, phi: sp.Expr, r: sp.Symbol) -> FusedKernel | None:
    """The fused form of kernel expressions g(r), phi(r) (and psi = phi'(r)/r); None if numexpr
    cannot express them (a function it lacks), so callers keep the NumPy route."""
    dd = sp.Symbol("dd", nonnegative=True)
    texts = []
    for e in (g, phi, sp.diff(phi, r) / r):
        # r = sqrt(dd): SymPy cancels sqrt(dd)^2 = dd, so even kernels need no square root
        text = _numexpr_text(e.subs(r, sp.sqrt(dd)), "dd")
        if text is None:
            return None
        texts.append(text)
    return FusedKernel(g=texts[0], phi=texts[1], psi=texts[2])


FUSED_MIN_SIZE = 1 << 16  # below this many elements numexpr's start-up costs more than it saves


@lru_cache(maxsize=512)
def fused_elementwise(expr: sp.Expr, var: sp.Symbol):
    """A float64 callable x -> expr(x) evaluated by numexpr on every core, or None when numexpr
    cannot express `expr` (erf, ...) or `expr` is constant. Activations and their derivatives on
    B x N arrays use it; small arrays stay with the NumPy lambdified form (see FUSED_MIN_SIZE)."""
    import numexpr

    if not expr.has(var):
        return None
    x = sp.Symbol("x", real=True)
    text = _numexpr_text(expr.xreplace({var: x}), "x")
    if text is None:
        return None

    def call(v):
        return numexpr.evaluate(text, local_dict={"x": v})

    call.__doc__ = f"numexpr: {text}"
    return call
