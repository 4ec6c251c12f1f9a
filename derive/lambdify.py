"""The one door from exact SymPy to floats: every SymPy expression becomes code for a numeric library
here, and every piece of generated code is compiled here.

The backends are rows of one table, `BACKENDS`, as in SymPy's own `MODULES`: ``"numpy"``,
``"numexpr"`` (one multithreaded pass per expression, float64 arrays), ``"torch"``, ``"mpmath"``
(50-digit ground truth) and ``"arb"`` (Arb balls from python-flint: the ground truth with rigorous
radii, derive.symbolic.balls; its own printer, `_ArbPrinter`, where conditions on a ball are
decided, refuted or undecided and an undecided Piecewise is the union of its branches).
A row says which namespaces the generated code runs in (SymPy picks its
printer from them; numexpr's source comes from SymPy's `NumExprPrinter`), how constants are rewritten
before printing (the library cannot take them exactly), and, for the rows that run the exact
programs of derive.symbolic (numpy and mpmath), how an exact coefficient is written into and valued
in their code. `derive` never imports torch itself: SymPy's printer does, only when a torch callable is
requested by `numeric.autograd`.

Entry points: `lambdify` (one expression or a list, with ``cse=True``), `numexpr_source` (the numexpr
text of an expression, checked once on a probe), `compile_function` (exec of generated source: the
programs of derive.symbolic.codegen), `number_source` / `number_value` (exact coefficients), and the
cached single-variable forms of the primitives, `primitive_callables`.

The fused kernel layer lives here too: a kernel layer W = g(R), P = phi(R) as one exact distance pass
and one fused, multithreaded pass. The NumPy route evaluates a layer in several N x N passes: D
differences, squares and sums, a square root, then g and phi (each a pass or more). Here SymPy rewrites
g, phi = g'/r and psi = phi'/r as functions of the squared distance dd = r^2 (an even kernel loses the
square root: exp(-r^2/s^2) becomes exp(-dd/s^2)) and prints them for numexpr, which evaluates each in
one blocked pass on every core, in place, with no N x N temporaries. dd itself comes from scipy's
`cdist(..., "sqeuclidean")`: sum_d (z_id - z'_jd)^2 one dimension at a time, exact near r = 0 (never
the Gram form |z|^2 + |z'|^2 - 2 z.z', which cancels), row blocks on all cores. Same definition, one
printer: the strings come from the kernel's SymPy expressions, never from user text. Coincident nodes
(dd = 0) are not special-cased: a formula singular there (0/0 in sin(r)/r, g'(r)/r when g'(0) != 0)
yields NaN or inf, and the engine falls back to its careful route, which takes limits or raises the
one-line error.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

import sympy as sp

from derive.errors import SpecError

__all__ = [
    "Backend",
    "BACKENDS",
    "PROGRAM_BACKENDS",
    "lambdify",
    "numexpr_source",
    "compile_function",
    "program_namespace",
    "number_source",
    "number_value",
    "primitive_callables",
    "elementwise",
    "FusedKernel",
    "fused_kernel",
    "fused_elementwise",
    "squared_distances",
    "FUSED_MIN_SIZE",
]


def _as_is(expr):
    return expr


def _constants_30(expr):
    """Closed-form constants as 30-digit floats (exact to float64): SymPy's torch printer emits
    torch.sqrt(2) for sqrt(2), and torch functions need tensors. So are rationals whose numerator or
    denominator passes 2**53: printed as Python ints, 10**20 * tensor overflowed int64 (a kernel
    exp(-r**2/s**2) with s = 1e-10 raised OverflowError in the torch engine)."""
    if isinstance(expr, (list, tuple)):
        return type(expr)(_constants_30(e) for e in expr)
    expr = expr.replace(lambda e: e.is_number and not e.is_Atom and not e.is_Rational, lambda e: sp.Float(sp.N(e, 30), 30))
    big = {q: sp.Float(sp.N(q, 30), 30) for q in expr.atoms(sp.Rational) if max(abs(q.p), q.q) > 2**53}
    return expr.xreplace(big) if big else expr


def _constants_17(expr):
    """Every non-integer constant as one 17-digit float literal (exact to float64, like the NumPy
    printer's constants): numexpr knows no `math.pi` and must not see integer division."""
    return expr.replace(
        lambda e: e.is_number and not e.is_Integer and not isinstance(e, sp.Float), lambda e: sp.Float(sp.N(e, 17), 17)
    )


def _constants_17_exact_powers(expr):
    """Rational and float atoms as 17-digit floats, exponents kept exact (sqrt(dd) prints as numexpr's
    sqrt, not a power); other constants (pi, sqrt(2)) stay as they are."""
    exps = {x.exp for x in expr.atoms(sp.Pow)}
    return expr.xreplace(
        {
            x: sp.Float(sp.N(x, 17), 17)
            for x in expr.atoms(sp.Number)
            if not x.is_Integer and not isinstance(x, sp.Float) and x not in exps
        }
    )


def _tie_split(pick):
    """max (pick = operator.gt) or min (operator.lt) of numbers or tensors, elementwise, for the torch row,
    whose printer writes SymPy's Max/Min as Python's max/min (a TypeError on tensors), always with two
    arguments (Max(a, b, c) prints as max(max(a, b), c)). A tie splits the derivative evenly, as SymPy's
    d Max(a, b)/da = Heaviside(a - b) = 1/2 at a = b (and torch.maximum): the result is a t + b (1 - t)
    with the constant weight t = [a picked] + 1/2 [a = b] (comparisons carry no gradient)."""

    def call(a, *rest):
        for b in rest:
            t = pick(a, b) * 1.0 + (a == b) * 0.5
            a = a * t + b * (1 - t)
        return a

    return call


@dataclass(frozen=True)
class Backend:
    """One row of `BACKENDS`.

    Attributes:
        modules: the namespaces of the generated code, as SymPy's `lambdify` takes them (it picks its
            printer from them); numexpr's source is printed by SymPy's `NumExprPrinter`.
        prepare: the rewrite of an expression (or list of them) before printing: constants the
            library cannot take exactly become float literals.
        numbers: how an exact coefficient appears in a derive.symbolic program for this backend:
            "float" (a float64 literal), "mpf" (an mpmath fraction), or None (no programs).
    """

    modules: tuple[Any, ...]
    prepare: Callable[[Any], Any] = _as_is
    numbers: str | None = None


BACKENDS: dict[str, Backend] = {
    "numpy": Backend(("scipy", "numpy"), numbers="float"),  # scipy for erf (gelu), numpy for the rest
    "numexpr": Backend(("numexpr",), _constants_17),
    "torch": Backend(({"max": _tie_split(operator.gt), "min": _tie_split(operator.lt)}, "torch"), _constants_30),
    "mpmath": Backend(("mpmath",), numbers="mpf"),
    "arb": Backend((), numbers="arb"),  # python-flint balls: `_ArbPrinter`, rigorous radii (ground truth)
}
PROGRAM_BACKENDS = tuple(k for k, b in BACKENDS.items() if b.numbers)  # the targets of derive.symbolic programs


def _row(backend: str) -> Backend:
    if backend not in BACKENDS:
        raise SpecError(f"unknown backend {backend!r}", f"use one of {', '.join(BACKENDS)}")
    return BACKENDS[backend]


def lambdify(args: Sequence[sp.Symbol], expr, backend: str = "numpy"):
    """Compile `expr` (an expression or a list of them) of `args` for `backend`, with common
    subexpression elimination. The generated source is in the function's docstring.

    The numexpr backend takes float64 arrays (or scalars) and raises `SpecError` for an expression
    numexpr cannot express (erf, Bessel functions, ...)."""
    row = _row(backend)
    if backend == "numexpr":
        return _numexpr_lambdify([str(a) for a in args], expr)
    if backend == "arb":
        return _arb_lambdify(args, expr)
    return sp.lambdify(list(args), row.prepare(expr), modules=list(row.modules), cse=True)


def _numexpr_lambdify(names: list[str], expr):
    exprs = list(expr) if isinstance(expr, (list, tuple)) else [expr]
    texts = [numexpr_source(e, names) for e in exprs]
    for e, text in zip(exprs, texts):
        if text is None:
            raise SpecError(f"numexpr cannot express {e}", "use the numpy backend")
    fns = [_numexpr_function(t, names) for t in texts if t is not None]
    if isinstance(expr, (list, tuple)):

        def call_all(*values):
            return [f(*values) for f in fns]

        call_all.__doc__ = "numexpr: " + "; ".join(f.__doc__ or "" for f in fns)
        return call_all
    return fns[0]


def _numexpr_function(text: str, names: Sequence[str]):
    """The compile step of the numexpr row: values of `names` in, one numexpr pass out."""
    import numexpr

    names = tuple(names)

    def call(*values):
        return numexpr.evaluate(text, local_dict=dict(zip(names, values)))

    call.__doc__ = f"numexpr: {text}"
    return call


def numexpr_source(expr: sp.Expr, names: Sequence[str], exact_powers: bool = False) -> str | None:
    """numexpr source of `expr` in the variables `names`, or None when the printer or numexpr rejects it
    (a function numexpr lacks: erf, Bessel, ...) or it does not give float64 elementwise (where(x > 0, 1,
    0) is an int array). Checked once, here, on probe arrays.

    Constants become 17-digit float literals: every non-integer constant, or with ``exact_powers``
    only rational atoms outside exponents (sqrt(dd) stays numexpr's sqrt)."""
    import numexpr
    import numpy as np
    from sympy.printing.lambdarepr import NumExprPrinter

    expr = _constants_17_exact_powers(expr) if exact_powers else BACKENDS["numexpr"].prepare(expr)
    try:
        text = NumExprPrinter()._print(expr)
        probe = numexpr.evaluate(text, local_dict={n: np.full(3, 0.5) for n in names})
    except Exception:
        return None
    return text if probe.dtype == np.float64 and probe.shape == (3,) else None


# -- generated programs (derive.symbolic.codegen writes the source, this compiles it) ---------------
def compile_function(source: str, name: str, namespace: dict[str, Any], filename: str) -> Callable:
    """Compile generated Python `source` defining function `name`, with `namespace` as its globals."""
    local: dict[str, Any] = {}
    exec(compile(source, filename, "exec"), namespace, local)
    return local[name]


def program_namespace(backend: str) -> dict[str, Any]:
    """The globals a program's generated code needs for `backend` (mpmath: ``mpf``)."""
    if _row(backend).numbers == "mpf":
        import mpmath

        return {"mpf": mpmath.mpf}
    if _row(backend).numbers == "arb":
        from flint import arb

        return {"arb": arb}
    return {}


def number_source(c: int | Fraction, backend: str) -> str:
    """An exact coefficient as source text in generated code: a float literal (numpy) or an mpmath
    fraction (mpmath); an int as itself."""
    if isinstance(c, Fraction):
        kind = BACKENDS[backend].numbers
        if kind in ("mpf", "arb"):
            return f"({kind}({c.numerator})/{c.denominator})"
        return repr(c.numerator / c.denominator)
    return str(c)


def number_value(backend: str) -> Callable[[int | Fraction | None], Any]:
    """How an exact constant (None = 0) becomes a value of `backend` when a program runs: a float, or an
    mpmath number (made at call time, so it takes the caller's working precision)."""
    if BACKENDS[backend].numbers == "mpf":
        import mpmath

        mpf, mp_zero = mpmath.mpf, mpmath.mpf(0)

        def mp_value(c):
            if c is None:
                return mp_zero
            return mpf(c.numerator) / c.denominator if isinstance(c, Fraction) else mpf(c)

        return mp_value
    if BACKENDS[backend].numbers == "arb":
        from flint import arb

        def arb_value(c):
            if c is None:
                return arb(0)
            return arb(c.numerator) / c.denominator if isinstance(c, Fraction) else arb(c)

        return arb_value

    def value(c):
        if c is None:
            return 0.0
        return c.numerator / c.denominator if isinstance(c, Fraction) else float(c)

    return value


# -- primitives, elementwise ------------------------------------------------------------------------
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
    (one multithreaded pass; `fused_elementwise`) when numexpr can express it."""
    fn = elementwise(lambdify([var], expr, backend))
    if backend != "numpy":
        return fn
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
FUSED_MIN_SIZE = 1 << 16  # below this many elements numexpr's start-up costs more than it saves


@lru_cache(maxsize=512)
def fused_elementwise(expr: sp.Expr, var: sp.Symbol):
    """A float64 callable x -> expr(x) evaluated by numexpr on every core, or None when numexpr
    cannot express `expr` (erf, ...) or `expr` is constant. Activations and their derivatives on
    B x N arrays use it; small arrays stay with the NumPy lambdified form (see FUSED_MIN_SIZE)."""
    if not expr.has(var):
        return None
    x = sp.Symbol("x", real=True)
    text = numexpr_source(expr.xreplace({var: x}), ["x"])
    return None if text is None else _numexpr_function(text, ["x"])


# -- the fused kernel layer (module docstring) ------------------------------------------------------
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
        text = numexpr_source(e.subs(r, sp.sqrt(dd)), ["dd"])
        if text is None:
            return None
        texts.append(text)
    return FusedKernel(g=texts[0], phi=texts[1], psi=texts[2])


# -- the arb row: SymPy expressions as Arb ball functions (python-flint) ----------------------------
class ArbUnsupported(SpecError):
    """An expression the arb printer cannot write as ball arithmetic (a function Arb lacks here): the
    ground truth falls back to mpmath for it."""


def _arb_namespace() -> dict[str, Any]:
    """Globals of arb code: ball versions of the functions `_ArbPrinter` prints. A condition is True,
    False or None (undecided: the ball straddles the boundary); a Piecewise takes the union of every
    branch whose condition is not certainly False up to the first certainly True one, so an undecided
    kink gives a wide ball (its radius, not a guess, says so)."""
    from flint import arb

    A = arb

    def tri(yes, no):
        return True if yes else (False if no else None)

    def pw(*a):
        acc = None
        for i in range(0, len(a), 2):
            c = a[i]
            if c is False:
                continue
            v = A(a[i + 1])
            acc = v if acc is None else acc.union(v)
            if c is True:
                return acc
        return A.nan() if acc is None else acc

    def sign(x):
        x = A(x)
        if x > 0:
            return A(1)
        if x < 0:
            return A(-1)
        return A(0) if x == 0 else A(0, 1)

    def heaviside(x, h0=None):
        x = A(x)
        if x > 0:
            return A(1)
        if x < 0:
            return A(0)
        if x == 0 and h0 is not None:
            return A(h0)
        return A(0.5, 0.5)

    def ipow(b, n):
        # by multiplication: python-flint's b**n is arb_pow, NaN for a ball around 0 (0**2 is not)
        b, m = A(b), abs(n)
        out = A(1)
        while m:
            if m & 1:
                out = out * b
            m >>= 1
            if m:
                b = b * b
        return out if n >= 0 else 1 / out

    def both(xs, pick):
        out = A(xs[0])
        for x in xs[1:]:
            out = getattr(out, pick)(A(x))
        return out

    ns: dict[str, Any] = {
        "arb": A,
        "_q": lambda p, q: A(p) / q,
        "_pi": A.pi,
        "_e": A.const_e,
        "_gt": lambda a, b: tri(A(a) > b, A(a) <= b),
        "_ge": lambda a, b: tri(A(a) >= b, A(a) < b),
        "_lt": lambda a, b: tri(A(a) < b, A(a) >= b),
        "_le": lambda a, b: tri(A(a) <= b, A(a) > b),
        "_eq": lambda a, b: tri(A(a) == b, A(a) != b),
        "_ne": lambda a, b: tri(A(a) != b, A(a) == b),
        "_and": lambda *c: False if False in c else (True if all(x is True for x in c) else None),
        "_or": lambda *c: True if True in c else (False if all(x is False for x in c) else None),
        "_not": lambda c: None if c is None else not c,
        "_pw": pw,
        "_powr": lambda b, e: A(b) ** A(e),
        "_ipow": ipow,
        "Abs": lambda x: abs(A(x)),
        "sign": sign,
        "Heaviside": heaviside,
        "Max": lambda *x: both(x, "max"),
        "Min": lambda *x: both(x, "min"),
    }
    for name in _ARB_METHODS:
        ns[name] = (lambda m: lambda x: getattr(A(x), m)())(name)
    ns["sqrt"], ns["_rsqrt"] = ns["sqrt"], lambda x: A(x).rsqrt()
    ns["atan2"] = lambda y, x: A.atan2(A(y), A(x))
    return ns


_ARB_METHODS = (
    "exp", "log", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "asin", "acos", "atan",
    "asinh", "acosh", "atanh", "erf", "erfc", "sec", "csc", "cot", "sech", "csch", "coth",
)  # fmt: skip
_ARB_FUNCTIONS = frozenset((*_ARB_METHODS, "Abs", "sign", "Heaviside", "Max", "Min", "atan2"))


def _arb_printer():
    from sympy.printing.str import StrPrinter

    class _ArbPrinter(StrPrinter):
        """SymPy -> arb code: exact constants as balls at the working precision (never a float),
        relations as tri-state tests, Piecewise as `_pw` (see `_arb_namespace`)."""

        _REL = {">": "_gt", ">=": "_ge", "<": "_lt", "<=": "_le", "==": "_eq", "!=": "_ne"}

        def _print_Integer(self, e):
            return str(e.p)

        def _print_Rational(self, e):
            return f"_q({e.p}, {e.q})"

        def _print_Float(self, e):
            r = sp.Rational(e)  # the exact binary value of the float
            return f"_q({r.p}, {r.q})"

        def _print_Pi(self, e):
            return "_pi()"

        def _print_Exp1(self, e):
            return "_e()"

        def _print_NumberSymbol(self, e):
            raise ArbUnsupported(f"arb: no ball for the constant {e}", "the mpmath route evaluates it")

        def _print_Relational(self, e):
            return f"{self._REL[e.rel_op]}({self._print(e.lhs)}, {self._print(e.rhs)})"

        def _print_BooleanTrue(self, e):
            return "True"

        def _print_BooleanFalse(self, e):
            return "False"

        def _print_And(self, e):
            return f"_and({', '.join(self._print(a) for a in e.args)})"

        def _print_Or(self, e):
            return f"_or({', '.join(self._print(a) for a in e.args)})"

        def _print_Not(self, e):
            return f"_not({self._print(e.args[0])})"

        def _print_Piecewise(self, e):
            return f"_pw({', '.join(f'{self._print(c)}, {self._print(v)}' for v, c in e.args)})"

        def _print_Pow(self, e, rational=False):
            b, x = e.base, e.exp
            if x == sp.S.Half:
                return f"sqrt({self._print(b)})"
            if x == -sp.S.Half:
                return f"_rsqrt({self._print(b)})"
            if x.is_Integer:
                return f"_ipow({self._print(b)}, {x.p})"
            if b == sp.E:
                return f"exp({self._print(x)})"
            return f"_powr({self._print(b)}, {self._print(x)})"

        def _print_Function(self, e):
            name = type(e).__name__
            if name not in _ARB_FUNCTIONS:
                raise ArbUnsupported(f"arb: no ball function for {name}", "the mpmath route evaluates it")
            return f"{name}({', '.join(self._print(a) for a in e.args)})"

        def _print_Symbol(self, e):
            return super()._print_Symbol(e)

    return _ArbPrinter


def _arb_lambdify(args, expr):
    """`expr` of `args` as arb code; `ArbUnsupported` for what it cannot print."""
    for f in expr if isinstance(expr, (list, tuple)) else [expr]:
        f = sp.sympify(f)
        for c in f.atoms(sp.Function):
            if type(c).__name__ not in _ARB_FUNCTIONS and not isinstance(c, sp.Piecewise):
                raise ArbUnsupported(f"arb: no ball function for {type(c).__name__}", "the mpmath route evaluates it")
        for c in f.atoms(sp.NumberSymbol):
            if c not in (sp.pi, sp.E):
                raise ArbUnsupported(f"arb: no ball for the constant {c}", "the mpmath route evaluates it")
    return sp.lambdify(list(args), expr, modules=[_arb_namespace()], printer=_arb_printer(), cse=True)
