"""Kernels g(r), each defined once as a SymPy expression of the distance ``r >= 0`` with named
positive parameters (the library `KERNELS` or a user formula), and the exact facts the engines and the
audit read from one: g' and phi(r) = g'(r)/r, psi(r) = phi'(r)/r (MATH.md, efficient form and second
order), and their limits at coincident nodes r -> 0+ (MATH.md "Coincident nodes").

Public through derive.primitives (with activations and losses).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import sympy as sp

from derive.decide import finite, is_zero
from derive.errors import SpecError
from derive.lambdify import lambdify
from derive.parse import FLOAT64_DECADES, check_param_range, parse_expr, symbol
from derive.step_limits import attempt, pure, too_big

__all__ = ["KERNELS", "Kernel", "kernel", "R"]

R = symbol("r")

# name -> (formula in r, default parameters). Compact supports and cutoffs are written with where().
KERNELS: dict[str, tuple[str, dict[str, float]]] = {
    "gaussian": ("exp(-r**2/s**2)", {"s": 1.0}),
    "exponential": ("exp(-r/s)", {"s": 1.0}),
    "inverse_quadratic": ("1/(1 + (r/s)**2)", {"s": 1.0}),
    "inverse_multiquadric": ("1/sqrt(1 + (r/s)**2)", {"s": 1.0}),
    "wendland_c2": ("where(r < s, (1 - r/s)**4*(4*r/s + 1), 0)", {"s": 2.0}),
    "cosine_cutoff": ("where(r < rc, (cos(pi*r/rc) + 1)/2, 0)", {"rc": 2.0}),
}


@dataclass(frozen=True)
class Kernel:
    """A kernel g(r) with its parameters.

    Attributes:
        name: library name, or the formula text for user kernels.
        expr: g as a SymPy expression of `R` and parameter symbols.
        params: parameter name -> value (numbers, substituted by `bound`).
    """

    name: str
    text: str
    expr: sp.Expr
    params: tuple[tuple[str, float], ...]

    def check_range(self, decades: int = FLOAT64_DECADES, kind: str = "float64") -> None:
        """Refuse (`SpecError`, one line with the accepted range) a parameter value whose constants in g, g'
        or g'' (H v takes g'') leave 10**(+-decades): float64 by default, float32 for an engine in float32."""
        for k, v in self.params:
            check_param_range("kernel parameter", k, v, self._range_exprs, symbol(k), decades, kind)

    @cached_property
    def _range_exprs(self) -> tuple[sp.Expr, ...]:
        """g, g' and g'' with the parameters as symbols: where their constants come from."""
        return self.expr, self.expr.diff(R), self.expr.diff(R, 2)

    @cached_property
    def bound(self) -> sp.Expr:
        """g with parameter values substituted exactly (decimal values become rationals).

        abs/min/max/sign are rewritten as Piecewise: derivatives are then piecewise (the a.e.
        derivative, as torch computes it) instead of DiracDelta terms that stall `limit`.
        """
        g = self.expr.subs({symbol(k): sp.Rational(repr(float(v))) for k, v in self.params})
        return sp.piecewise_fold(g.rewrite([sp.Abs, sp.Min, sp.Max, sp.sign, sp.Heaviside], sp.Piecewise))

    @cached_property
    def dg(self) -> sp.Expr:
        return sp.diff(self.bound, R)

    @cached_property
    def phi(self) -> sp.Expr:
        """phi(r) = g'(r)/r, simplified piece by piece (MATH.md, efficient form); unsimplified when
        simplifying would exceed the SymPy step budget (`phi_note` says so)."""
        return self._phi[0]

    @cached_property
    def phi_note(self) -> str | None:
        """Why phi is g'(r)/r unsimplified (None when it is simplified)."""
        return self._phi[1]

    @cached_property
    def phi_over_g(self) -> sp.Expr | None:
        """c when phi = c g exactly (gaussian: -2/s^2), else None; None too when simplifying the
        ratio exceeds the step budget (the answer is cached either way: engines compile it once)."""
        if isinstance(self.bound, sp.Piecewise) or too_big(self.phi):
            return None
        ratio, _ = attempt(sp.simplify, self.phi / self.bound)
        return ratio if ratio is not None and ratio.is_number and finite(ratio) else None

    @cached_property
    def _phi(self) -> tuple[sp.Expr, str | None]:
        raw = sp.piecewise_fold(self.dg / R)
        if too_big(raw):
            return raw, "g'(r)/r is too large to simplify"
        value, why = attempt(_simplify, raw)
        return (raw, f"g'(r)/r left unsimplified: {why}") if value is None else (value, None)

    @cached_property
    def psi(self) -> sp.Expr:
        """psi(r) = phi'(r)/r: R{phi(r)} = psi(r) S in the R-operator (MATH.md, second order)."""
        return sp.diff(self.phi, R) / R

    # -- coincident nodes (r = 0), MATH.md "Coincident nodes": every decision about r = 0 reads these.
    # One edge gives w(z) = g(|z|); for z != 0, with u = z/|z|: grad w = g'(r) u and
    # Hess w = g''(r) u u^T + phi(r) (I - u u^T), where g'' = phi + r phi'.
    @cached_property
    def g0(self) -> sp.Expr:
        """g(0+): the weight of coincident nodes (a limit: sin(r)/r is 0/0 at r = 0 but has a value)."""
        return _limit0(self.bound)

    @cached_property
    def dg0(self) -> sp.Expr:
        """g'(0+): the coordinate gradient is defined at coincident nodes iff this is 0."""
        return _limit0(self.dg)

    @cached_property
    def d2g0(self) -> sp.Expr:
        """g''(0+), the radial eigenvalue of Hess w at coincidence."""
        return _limit0(sp.diff(self.bound, R, 2))

    @cached_property
    def length_scale(self) -> float | None:
        """The distance over which g changes at coincident nodes: |g(0)/g'(0)| where g'(0) != 0, else
        sqrt(|g(0)/g''(0)|), with g''(0) = phi(0) there (s/sqrt(2) for exp(-r**2/s**2), s for exp(-r/s));
        None where g(0) is 0 or g is flat there, or a limit is undecided. Steps that probe the loss at a
        coincident pair must be small against it (the Taylor test with steps of 1e-5..1e-2 saw a constant
        remainder at s = 1e-8). The limits are the ones the engines take anyway (no new one)."""
        try:
            g0, d1 = (float(v) if v is not None else float("nan") for v in (self.g0, self.dg0))
            d2 = float(self.phi0) if d1 == 0 and self.phi0 is not None else float("nan")
        except (TypeError, ValueError):
            return None
        if not (g0 and math.isfinite(g0)):
            return None
        first = abs(g0 / d1) if d1 and math.isfinite(d1) else math.inf
        second = math.sqrt(abs(g0 / d2)) if d2 and math.isfinite(d2) else math.inf
        return min(first, second) if min(first, second) < math.inf else None

    @cached_property
    def phi0(self) -> sp.Expr:
        """phi(0+) = lim g'(r)/r: the value engines use at coincident nodes (= g''(0) when g'(0) = 0)."""
        return _limit0(self.phi)

    @cached_property
    def psi0(self) -> sp.Expr:
        """psi(0+) = lim phi'(r)/r (may be infinite: psi only multiplies S, which is 0 at coincidence)."""
        return _limit0(self.psi)

    @cached_property
    def gradient_at_0(self) -> bool:
        """g'(0+) = 0: grad w = g'(r) u tends to 0 from every direction u, so dL/dz exists where two
        nodes coincide (exponential: g'(0+) = -1/s, a different limit per direction: no gradient)."""
        return finite(self.dg0) and is_zero(self.dg0)

    @cached_property
    def phi0_finite(self) -> bool:
        """phi(0+) is finite: the engines evaluate dL/dz as sum_j dW_ij phi(r_ij) (z_i - z_j) and use
        phi(0+) at r = 0, so they accept coincident nodes iff this holds (it implies `gradient_at_0`)."""
        return finite(self.phi0)

    @cached_property
    def hessian_at_0(self) -> bool:
        """The Hessian exists (is continuous) at coincident nodes: phi(0+) finite and lim r phi'(r) = 0,
        i.e. g''(0+) = phi(0+), so both eigenvalues of Hess w tend to one value: Hess w -> phi(0) I."""
        lim = _limit0(R * sp.diff(self.phi, R))
        return self.phi0_finite and lim is not None and is_zero(lim)


@pure  # SymPy only: a step's answer may be reused for the same expression (derive.step_limits)
def _simplify(expr: sp.Expr) -> sp.Expr:
    expr = sp.piecewise_fold(expr)
    if isinstance(expr, sp.Piecewise):
        return sp.Piecewise(*[(_simplify(e), c) for e, c in expr.args])
    expr = sp.simplify(sp.cancel(expr))
    if not expr.is_rational_function(R):
        # factor() would treat exp(-10^10 r^2) as a power of exp(r^2) and expand it (4 GB, minutes)
        return expr
    # factor() keeps polynomial pieces in product form: Wendland's phi as -5(r - 2)^3/8, not the
    # expanded 5r^3/8 - 15r^2/4 + 15r/2 - 5, which cancels catastrophically near the support edge
    # (found by derivcheck verify: float32 dZ 3% off, float64 2e6 ulp, for edges near r = 2).
    return sp.factor(expr)


def _limit0(expr: sp.Expr) -> sp.Expr | None:
    """lim_{r -> 0+} expr, or None when SymPy cannot decide it within the step budget (callers read
    None as "undecided": coincident nodes are then refused, never given a guessed value)."""
    if too_big(expr):
        return None
    value, _ = attempt(_limit0_exact, expr)
    return value


@pure
def _limit0_exact(expr: sp.Expr) -> sp.Expr:
    expr = sp.piecewise_fold(expr)
    if isinstance(expr, sp.Piecewise):
        # Small positive r selects the piece whose condition holds just right of 0: below every breakpoint a
        # parameter can make (|s| >= 1e-280, so s**2 >= 1e-560; exact, no float underflow). With 1e-9,
        # wendland_c2 with s = 1e-20 took the piece beyond its support: g(0+) = 0, a false verify failure
        eps = sp.Rational(1, 10**1000)
        for e, c in expr.args:
            if c is sp.true or bool(c.subs(R, eps)):
                return _limit0_exact(e)
    return sp.limit(expr, R, 0, "+")


@lru_cache(maxsize=256)
def kernel(spec: str, params: tuple[tuple[str, float], ...] = ()) -> Kernel:
    """Build a kernel from a library name or a formula in ``r``.

    Args:
        spec: a name in `KERNELS` or a formula such as ``"exp(-r**2/s**2)"``.
        params: (name, value) pairs; library defaults fill the rest.

    Raises:
        SpecError: unknown name, malformed formula, missing or non-positive parameter values.
    """
    given = dict(params)
    if "r" in given:
        raise SpecError(
            "'r' is the distance variable of every kernel, not a parameter", "remove --param r=...; name parameters s, rc, a ..."
        )
    if spec in KERNELS:
        text, defaults = KERNELS[spec]
        values = {**defaults, **given}
    else:
        if spec.isidentifier() and spec not in ("r",) and "(" not in spec:
            raise SpecError(
                f"unknown kernel {spec!r}", f"use one of {', '.join(KERNELS)} or a formula in r such as exp(-r**2/s**2)"
            )
        text, values = spec, given
    unknown = set(given) - set(KERNELS[spec][1]) if spec in KERNELS else set()
    if unknown:
        raise SpecError(
            f"kernel {spec!r} has no parameter {sorted(unknown)[0]!r}", f"its parameters are {', '.join(KERNELS[spec][1])}"
        )
    expr = parse_expr(text, variables=("r",), params=tuple(values))
    missing = {s.name for s in expr.free_symbols} - {"r"} - set(values)
    if missing:
        raise SpecError(f"kernel {text!r} uses {sorted(missing)[0]!r} without a value", "pass --param NAME=VALUE")
    for k, v in values.items():
        if not isinstance(v, (int, float)) or v != v or abs(v) == float("inf"):
            raise SpecError(f"kernel parameter {k}={v!r} is not a finite number", f"give {k} a finite value")
        if symbol(k).is_positive and v <= 0:
            raise SpecError(f"kernel parameter {k}={v} must be positive", f"give {k} a value > 0")
    if R not in expr.free_symbols and not expr.is_number:
        raise SpecError(f"kernel {text!r} does not depend on r", "write g as a function of the distance r")
    # a constant kernel such as "1" is the free-weights model (Net refuses it without free amplitudes)
    built = Kernel(spec, text, expr, tuple(sorted((k, float(v)) for k, v in values.items())))
    built.check_range()
    _check_real(built)
    return built


def _check_real(k: Kernel) -> None:
    """Refuse a complex-valued kernel (sqrt(-1)*r, (-r)**(1/3)): g must be real for r > 0. Checked
    exactly where SymPy sees it (I in the formula), else numerically at a few distances."""
    fix = "write a real function of r >= 0 (a real cube root of r is r**(1/3))"
    if k.bound.has(sp.I):
        raise SpecError(f"kernel {k.text!r} is complex-valued (it contains I = sqrt(-1))", fix)
    # Complex at every probe distance: not a real kernel at all. Complex only somewhere (sqrt(1 - r)
    # beyond r = 1) is a defect the audit reports (real_finite), with the interval where it occurs.
    g = lambdify([R], k.bound, "numpy")
    values = []
    for at in (1e-3, 1 / 3, 1.5, 7.0):
        try:  # float64 (complex128) evaluation: never mpmath, which could build astronomically large numbers
            with np.errstate(all="ignore"):
                values.append((at, complex(g(np.complex128(at)))))
        except Exception:  # noqa: BLE001  not evaluable here: no verdict on realness from this point
            return
    if all(v.imag != 0 and abs(v.imag) > 1e-12 * max(1.0, abs(v.real)) for _, v in values):
        at, v = values[1]
        raise SpecError(f"kernel {k.text!r} is complex-valued (g({at:.3g}) = {v:.3g})", fix)
