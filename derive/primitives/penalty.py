"""Penalties on distances and weights (MATH.md "The wider model family"), each defined once in SymPy.

A penalty term is ``scale * reduce over edges (i, j) of its layer pairs of rho(r_ij, w_ij)`` with
``rho`` a formula in ``r`` (distance) and ``w`` (weight) read by the whitelist parser, named
parameters allowed; ``reduce`` is "sum" or "mean" (mean: divided by the number of edges the term
covers, all its layers together). The objective is J = L + sum of the terms.

Per edge the term contributes, with c = scale (sum) or scale / n_edges (mean):
    dJ/dw  += c rho_w(r, w)
    dJ/dr  += c rho_r(r, w)           (so G_l of eq. (8)'s efficient form gains c rho_r / r)
|w| and |r| stay Abs: d|w|/dw = sign(w), 0 at w = 0 (the subgradient torch uses). This one rule holds in
every engine and for both kinds of net: the exact program and the flat route (SymPy's sign(0) = 0, on
mpmath and on Arb balls), the manual engines (np.sign) and torch (abs' backward is sgn, 0 at 0). So an L1
term c |w| adds 0, not +-c, to dJ/dw at a weight exactly 0, and |w|'' = 0 (DiracDelta dropped). max and
min (hinges such as max(|w| - t, 0)) take SymPy's d max(a, b)/da = Heaviside(a - b) = 1/2 at a tie, in
every engine too (torch's max/min: derive.lambdify's tie-splitting pair); where(cond, ...) follows its
condition as written.

An MLP (derive.net.MLP, kind = "mlp") takes penalties on its weights directly: rho is a formula in w alone
(weight decay "w**2", L1 "abs(w)"), dJ/dW = dL/dW + c rho_w(W); a rho naming r is refused there.

Coincident nodes (r = 0): dJ/dz exists there iff rho_r(r, w) -> 0 as r -> 0 for every w
(`Penalty.gradient_at_0`, decided once); engines then use lim rho_r / r (`phi0`, a function of w).

A penalty's numeric code (the numexpr source of the fused pass, NumPy and torch callables) is
generated from these derivatives by derive.primitives.penalty_code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import cast

import numpy as np
import sympy as sp

from derive.decide import finite, is_zero
from derive.errors import SpecError
from derive.parse import FLOAT64_DECADES, FUNCTIONS, check_param_range, free_names, parse_expr, symbol

__all__ = ["Penalty", "penalty", "coincidence_error", "REDUCES", "RW", "WW"]

REDUCES = ("sum", "mean")
RW = symbol("r")
WW = symbol("w")


def _limit0(e: sp.Expr) -> sp.Expr:
    return sp.limit(e, RW, 0, "+") if e.has(RW) else e


def _finite(v) -> bool:
    """A limit that is a finite number or a finite expression in w (no infinity, nan or unevaluated limit)."""
    if v is None:
        return False
    v = sp.sympify(v)
    if v.is_number:
        return finite(v)
    return not v.has(sp.oo, -sp.oo, sp.zoo, sp.nan, sp.AccumBounds, sp.Limit) and v.free_symbols <= {WW}


@dataclass(frozen=True)
class Penalty:
    """One penalty term (module docstring). Frozen and hashable: it is part of `Net`.

    Attributes:
        rho: the formula text in r and w, e.g. ``"abs(w)*r"`` or ``"(s*(r-q0))**2"``.
        params: values of its named parameters ((name, value) pairs, sorted).
        scale: the factor in front of the reduction.
        reduce: "sum" or "mean" over the edges the term covers.
        layers: the layers l (2..L) whose edges (layer l to layer l-1) the term covers, or None for all.
    """

    rho: str
    params: Mapping[str, float] | tuple[tuple[str, float], ...] = ()
    scale: float = 1.0
    reduce: str = "sum"
    layers: tuple[int, ...] | None = None

    def __post_init__(self):
        kp = self.params.items() if isinstance(self.params, Mapping) else self.params
        try:
            object.__setattr__(self, "params", tuple(sorted((str(k), float(v)) for k, v in kp)))
        except (TypeError, ValueError):
            raise SpecError(f"penalty {self.rho!r}: params must map names to numbers", "e.g. params = { s = 6.1 }") from None
        for k, v in self.pairs:
            if k in ("r", "w"):
                raise SpecError(
                    f"penalty {self.rho!r}: {k} is a variable of rho (r the distance, w the weight), not a parameter",
                    f"drop the parameter {k}",
                )
            if not math.isfinite(v):
                raise SpecError(f"penalty parameter {k}={v} is not a finite number (in {self.rho!r})", f"give {k} a finite value")
        if self.reduce not in REDUCES:
            raise SpecError(f"penalty reduce {self.reduce!r} is unknown", 'use reduce = "sum" or "mean"')
        try:  # a bool is an int to Python: `scale = true` would be read as 1.0
            scale = float("nan") if isinstance(self.scale, bool) else float(self.scale)
        except (TypeError, ValueError):
            scale = float("nan")
        if scale != scale or abs(scale) == float("inf"):
            raise SpecError(f"penalty scale {self.scale!r} is not a finite number", "give scale a finite value")
        object.__setattr__(self, "scale", scale)
        if self.layers is not None:
            # whole numbers only: int() would make 2.5 and "2" layer 2, and true layer 1
            if isinstance(self.layers, str | bytes) or not all(
                isinstance(v, int | np.integer) and not isinstance(v, bool) for v in self.layers
            ):
                raise SpecError(f"penalty layers {self.layers!r} are not integers", "list layers 2..L, e.g. [2, 3]")
            layers = tuple(sorted({int(v) for v in self.layers}))
            if not layers or layers[0] < 2:
                raise SpecError(f"penalty layers {self.layers!r} must be layers 2..L", "edges of layer l join l-1 and l")
            object.__setattr__(self, "layers", layers)
        _ = self.expr  # validate the formula now
        self.check_range()

    def check_range(self, decades: int = FLOAT64_DECADES, kind: str = "float64") -> None:
        """Refuse (`SpecError`, one line with the accepted range) a parameter value whose constants in rho or
        its first and second derivatives leave 10**(+-decades): float64 by default, float32 for an engine in
        float32 (rho = (s (r - q0))**2 with s = 1e300 overflowed float64: verify failed a valid net)."""
        for k, v in self.pairs:
            check_param_range(f"penalty {self.rho!r}: parameter", k, v, self._range_exprs, symbol(k), decades, kind)

    @cached_property
    def _range_exprs(self) -> tuple[sp.Expr, ...]:
        """rho and its first and second derivatives with the parameters as symbols: where their constants come from."""
        sym = parse_expr(self.rho, variables=("r", "w"), params=tuple(k for k, _ in self.pairs))
        return (sym, *(sym.diff(x) for x in (RW, WW)), *(sym.diff(x, y) for x, y in ((RW, RW), (RW, WW), (WW, WW))))

    @property
    def pairs(self) -> tuple[tuple[str, float], ...]:
        """`params` as __post_init__ normalised them: sorted (name, value) pairs."""
        return cast(tuple[tuple[str, float], ...], self.params)

    @cached_property
    def expr(self) -> sp.Expr:
        """rho with the parameter values substituted exactly (decimals become rationals)."""
        names = tuple(k for k, _ in self.pairs)
        missing = [n for n in free_names(self.rho, ("r", "w", *names)) if n not in FUNCTIONS]
        if missing:
            m = missing[0]
            raise SpecError(
                f"penalty {self.rho!r} needs a value for {m}",
                f"pass --penalty-param {m}=VALUE (in a spec file: params = {{ {m} = ... }})",
            )
        # the values go in while parsing: a parameter carries no sign assumption (abs(s) with s = -1 is 1)
        e = parse_expr(self.rho, variables=("r", "w"), params=names, values=dict(self.pairs))
        if not e.free_symbols & {RW, WW}:
            raise SpecError(f"penalty {self.rho!r} depends on neither r nor w", "write rho in r and w")
        return e

    def describe(self) -> str:
        kp = ",".join(f"{k}={v:g}" for k, v in self.pairs)
        where = "" if self.layers is None else f" layers {list(self.layers)}"
        return f"{self.scale:g}*{self.reduce}({self.rho}{'; ' + kp if kp else ''}){where}"

    def covers(self, L: int) -> tuple[int, ...]:
        """The layers 2..L the term covers (SpecError for a layer beyond L)."""
        if self.layers is None:
            return tuple(range(2, L + 1))
        if self.layers[-1] > L:
            raise SpecError(f"penalty {self.rho!r} names layer {self.layers[-1]}, the net has L = {L}", f"list layers 2..{L}")
        return self.layers

    def coef(self, widths: tuple[int, ...]) -> float:
        """c: scale (sum) or scale / number of covered edges (mean)."""
        return float(self.coef_exact(widths))

    def coef_exact(self, widths: tuple[int, ...]) -> Fraction:
        """c exactly (the exact engines' value): the scale's decimal as a fraction, over the edges for a mean."""
        c = Fraction(repr(self.scale))
        if self.reduce == "sum":
            return c
        return c / sum(widths[l - 1] * widths[l - 2] for l in self.covers(len(widths)))

    # -- derivatives, each from the one expression
    @cached_property
    def d(self) -> dict[str, sp.Expr]:
        """rho, rho_r, rho_w, phi = rho_r / r, phi_w = rho_rw / r, psi = phi_r / r, rho_ww (the R-operator's)."""
        e = self.expr
        rr, rw = sp.diff(e, RW), sp.diff(e, WW)
        phi = sp.simplify(rr / RW)
        clean = lambda x: x.replace(sp.DiracDelta, lambda *_: sp.S.Zero)  # noqa: E731  (|w|'' = 0 a.e.)
        return {
            "rho": e,
            "rho_r": rr,
            "rho_w": rw,
            "phi": phi,
            "phi_w": clean(sp.diff(phi, WW)),
            "psi": clean(sp.diff(phi, RW) / RW),
            "rho_ww": clean(sp.diff(rw, WW)),
        }

    @cached_property
    def dr0(self) -> sp.Expr:
        """lim rho_r(r, w) as r -> 0+ (an expression in w)."""
        return _limit0(self.d["rho_r"])

    @cached_property
    def phi0(self) -> sp.Expr:
        """lim rho_r(r, w) / r as r -> 0+ (in w): the value of phi where nodes coincide."""
        return _limit0(self.d["phi"])

    @cached_property
    def at0(self) -> dict[str, sp.Expr | None]:
        """Limits as r -> 0+ (expressions in w) of rho, rho_w, phi, phi_w, rho_ww; None where infinite."""
        out: dict[str, sp.Expr | None] = {}
        for k in ("rho", "rho_w", "phi", "phi_w", "rho_ww"):
            v = _limit0(self.d[k])
            out[k] = v if _finite(v) else None
        return out

    @cached_property
    def smooth(self) -> bool:
        """Whether rho is C2 in (r, w) away from r = 0: no |.|, sign, step, max/min or pieces (|w| has a
        kink at w = 0 that a Taylor or finite-difference step may cross)."""
        rough = (sp.Abs, sp.sign, sp.Heaviside, sp.Piecewise, sp.Max, sp.Min)
        return not any(self.expr.has(t) for t in rough)

    @cached_property
    def kink_in_w_only(self) -> bool:
        """Whether rho's only non-smooth pieces are |w| and sign(w) (the wiring costs |w| r, |w| (lambda r
        + l0)): it is C2 wherever every weight is nonzero, so second derivatives hold at such points."""
        if self.smooth or any(self.expr.has(t) for t in (sp.Heaviside, sp.Piecewise, sp.Max, sp.Min)):
            return False
        return all(a.args[0] == WW for a in self.expr.atoms(sp.Abs, sp.sign))

    @cached_property
    def dr0_finite(self) -> bool:
        """lim rho_r as r -> 0+ is finite for every w (a finite number or expression in w)."""
        return _finite(self.dr0)

    def uses(self, name: str) -> bool:
        """Whether the formula rho names the parameter `name` (before the values are substituted)."""
        names = tuple(k for k, _ in self.pairs)
        return symbol(name) in parse_expr(self.rho, variables=("r", "w"), params=names + (name,)).free_symbols

    @cached_property
    def gradient_at_0(self) -> bool:
        """rho_r -> 0 as r -> 0 for every w and rho_r / r stays finite: dJ/dz exists where nodes coincide
        ((s (r - q0))^2 with q0 != 0 or |w| r: no)."""
        return _finite(self.dr0) and is_zero(self.dr0) and _finite(self.phi0)


def penalty(spec) -> Penalty:
    """A `Penalty` from a Penalty, a mapping (rho, params, scale, reduce, layers) or a formula text."""
    if isinstance(spec, Penalty):
        return spec
    if isinstance(spec, str):
        return Penalty(spec)
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"rho", "params", "scale", "reduce", "layers"}
        if unknown:
            raise SpecError(f"penalty has unknown key {sorted(unknown)[0]!r}", "use rho, params, scale, reduce, layers")
        if "rho" not in spec:
            raise SpecError("a penalty needs rho, a formula in r and w", 'e.g. rho = "abs(w)*r"')
        layers = spec.get("layers")
        return Penalty(
            str(spec["rho"]),
            spec.get("params", ()),
            spec.get("scale", 1.0),
            spec.get("reduce", "sum"),
            None if layers is None else tuple(layers),
        )
    raise SpecError(f"cannot read a penalty from {spec!r}", "give a Penalty, a table or a formula text")


def coincidence_error(p: Penalty, where: str) -> SpecError:
    """The one error for coincident nodes in a layer that a penalty without a gradient at r = 0 covers."""
    return SpecError(
        f"{where} coincide (r = 0) and penalty {p.rho!r} has lim drho/dr = {p.dr0} there, so dJ/dz is undefined",
        "move the nodes apart or drop the penalty on that layer",
    )
