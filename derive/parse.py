"""Whitelist parser for user-written expressions (kernels g(r), activation and loss specs).

Nothing a user types is evaluated as Python or handed to `sympify`: the text is parsed with
`ast.parse(mode="eval")`, every node is checked against a fixed whitelist, and the SymPy
expression is built node by node from that whitelist.

>>> import sympy as sp
>>> parse_expr("exp(-r**2/s**2)", variables=("r",), params=("s",))
exp(-r**2/s**2)
"""

from __future__ import annotations

import ast
import difflib
import math
import re
import warnings
from collections.abc import Callable, Iterable, Mapping

import sympy as sp

from derive.errors import SpecError

__all__ = [
    "check_magnitude",
    "check_param_range",
    "param_range",
    "FLOAT32_DECADES",
    "free_names",
    "FUNCTIONS",
    "MAX_LENGTH",
    "MAX_DEPTH",
    "parse_expr",
    "parse_spec",
    "spec_values",
    "symbol",
]

MAX_LENGTH = 400
MAX_DEPTH = 24
MAX_EXPONENT = 64
MAX_NUMBER = 10**12
# A parameter name: letters and digits, single underscores inside (w_max); a leading or double
# underscore (dunder names) is refused before anything else looks at the text.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*")
_NAMES_WITH_UNDERSCORE = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)+\b")


def _where(cond, a, b):
    return sp.Piecewise((a, cond), (b, True))


def _piecewise(*args):
    if len(args) < 3 or len(args) % 2 == 0:
        raise SpecError("Piecewise takes value, condition pairs and a default", "write Piecewise(expr1, cond1, ..., default)")
    pairs = [(args[i], args[i + 1]) for i in range(0, len(args) - 1, 2)]
    return sp.Piecewise(*pairs, (args[-1], True))


# name -> (SymPy constructor, allowed argument counts)
FUNCTIONS: dict[str, tuple[Callable, tuple[int, ...]]] = {
    "exp": (sp.exp, (1,)),
    "log": (sp.log, (1,)),
    "sqrt": (sp.sqrt, (1,)),
    "sin": (sp.sin, (1,)),
    "cos": (sp.cos, (1,)),
    "tan": (sp.tan, (1,)),
    "tanh": (sp.tanh, (1,)),
    "sinh": (sp.sinh, (1,)),
    "cosh": (sp.cosh, (1,)),
    "atan": (sp.atan, (1,)),
    "erf": (sp.erf, (1,)),
    "abs": (sp.Abs, (1,)),
    "min": (sp.Min, (2, 3, 4)),
    "max": (sp.Max, (2, 3, 4)),
    "where": (_where, (3,)),
    "Piecewise": (_piecewise, (3, 5, 7, 9)),
}
CONSTANTS = {"pi": sp.pi, "E": sp.E}

_BINOPS = {ast.Add: sp.Add, ast.Sub: lambda a, b: a - b, ast.Mult: sp.Mul, ast.Div: lambda a, b: a / b, ast.Pow: None}
_CMPOPS = {ast.Lt: sp.StrictLessThan, ast.LtE: sp.LessThan, ast.Gt: sp.StrictGreaterThan, ast.GtE: sp.GreaterThan}


def symbol(name: str) -> sp.Symbol:
    """The canonical SymPy symbol for a variable or parameter name (real; r is nonnegative)."""
    if name == "r":
        return sp.Symbol("r", nonnegative=True)
    return sp.Symbol(name, positive=True) if name in ("s", "c", "rc", "delta", "alpha") else sp.Symbol(name, real=True)


def _number(value, text: str):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{value!r} is not allowed in {text!r}", "only numbers, names and + - * / ** are allowed")
    if abs(value) > MAX_NUMBER:
        raise SpecError(f"number {value!r} is too large in {text!r}", f"use numbers below {MAX_NUMBER:g}")
    if isinstance(value, int):
        return sp.Integer(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise SpecError(f"non-finite number in {text!r}", "use finite numbers")
    # Decimal literals stay exact: 0.5 is 1/2, 0.1 is 1/10 (what the user wrote, not its binary rounding).
    return sp.Rational(repr(value))


class _Builder:
    def __init__(self, text: str, names: Mapping[str, sp.Basic]):
        self.text = text
        self.names = names

    def fail(self, what: str) -> SpecError:
        allowed = ", ".join(sorted(self.names)) or "none"
        return SpecError(
            f"{what} is not allowed in {self.text!r}",
            f"use numbers, the names [{allowed}], + - * / ** and the functions {', '.join(sorted(FUNCTIONS))}",
        )

    def build(self, node: ast.AST, depth: int = 0, cond_ok: bool = False):
        if depth > MAX_DEPTH:
            raise SpecError(f"expression {self.text[:40]!r}... is nested too deeply", f"keep nesting below {MAX_DEPTH} levels")
        d = depth + 1
        if isinstance(node, ast.Expression):
            return self.build(node.body, d)
        if isinstance(node, ast.Constant):
            return _number(node.value, self.text)
        if isinstance(node, ast.Name):
            if not _NAME.fullmatch(node.id):
                raise self.fail(f"name {node.id!r} (underscores only inside names, as in w_max)")
            if node.id in self.names:
                return self.names[node.id]
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            raise self.fail(f"unknown name {node.id!r}")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = self.build(node.operand, d)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            a, b = self.build(node.left, d), self.build(node.right, d)
            if isinstance(node.op, ast.Pow):
                return self._pow(a, b)
            return _BINOPS[type(node.op)](a, b)
        if isinstance(node, ast.Compare):
            if not cond_ok or len(node.ops) != 1 or type(node.ops[0]) not in _CMPOPS:
                raise self.fail("a comparison outside the condition of where/Piecewise")
            return _CMPOPS[type(node.ops[0])](self.build(node.left, d), self.build(node.comparators[0], d))
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise self.fail("calling anything but a listed function")
            name = node.func.id
            if name not in FUNCTIONS:
                raise self.fail(f"function {name!r}")
            if node.keywords:
                raise self.fail(f"keyword arguments to {name}")
            fn, arities = FUNCTIONS[name]
            if len(node.args) not in arities:
                raise SpecError(
                    f"{name} takes {' or '.join(map(str, arities))} arguments in {self.text!r}",
                    f"call {name} with {arities[0]} argument(s)",
                )
            cond_positions = {"where": {0}, "Piecewise": set(range(1, len(node.args) - 1, 2))}.get(name, set())
            for i in cond_positions:
                if not isinstance(node.args[i], ast.Compare):
                    raise SpecError(
                        f"argument {i + 1} of {name} must be a comparison such as r < s in {self.text!r}",
                        "write e.g. where(r < s, 1 - r/s, 0)",
                    )
            args = [self.build(a, d, cond_ok=i in cond_positions) for i, a in enumerate(node.args)]
            return fn(*args)
        if isinstance(node, ast.Attribute):
            raise self.fail("attribute access")
        if isinstance(node, ast.Lambda):
            raise self.fail("lambda")
        raise self.fail(f"syntax {type(node).__name__}")

    def _pow(self, base, exponent):
        if exponent.free_symbols:
            return sp.Pow(base, exponent)
        if not exponent.is_number or not exponent.is_real or abs(exponent) > MAX_EXPONENT:
            raise SpecError(
                f"exponent {exponent} is too large in {self.text!r}", f"use exponents of magnitude at most {MAX_EXPONENT}"
            )
        if base.is_number and abs(base) > 1 and abs(exponent) * sp.log(abs(base), 10) > 12:
            raise SpecError(f"power {base}**{exponent} is too large in {self.text!r}", "use smaller numbers")
        return sp.Pow(base, exponent)


def parse_expr(
    text: str, variables: Iterable[str] = ("r",), params: Iterable[str] = (), values: Mapping[str, float] | None = None
) -> sp.Expr:
    """Parse `text` into a SymPy expression over the given variables and parameter names.

    Args:
        text: e.g. ``"exp(-r**2/s**2)"`` or ``"where(r < c, (1 - r/c)**4*(4*r/c + 1), 0)"``.
        variables: names of the free variables (kernels use ``r``).
        params: declared parameter names.
        values: parameter values to put in while parsing, as exact rationals of their decimal form. Why
            not substitute afterwards: `symbol` declares some names positive (s, c, ...), and SymPy
            simplifies with that while building (abs(s) becomes s), which is false for s = -1.

    Returns:
        The SymPy expression; names map to `symbol(name)`, or to their value where `values` gives one.

    Raises:
        SpecError: for anything outside the whitelist, too long or too deeply nested input.
    """
    if not isinstance(text, str):
        raise SpecError(f"expression must be a string, got {type(text).__name__}", "pass the formula as text")
    if len(text) > MAX_LENGTH:
        raise SpecError(f"expression is {len(text)} characters long", f"keep it under {MAX_LENGTH} characters")
    if "_" in _NAMES_WITH_UNDERSCORE.sub("", text):
        raise SpecError(
            f"underscores are not allowed in {text!r} except inside a name",
            "name parameters with letters, digits and inner underscores (w_max)",
        )
    if text.count("(") > MAX_DEPTH:
        raise SpecError(f"expression {text[:40]!r}... is nested too deeply", f"use at most {MAX_DEPTH} parentheses")
    names: dict[str, sp.Expr] = {n: symbol(n) for n in (*variables, *params)}
    for n, v in (values or {}).items():
        names[n] = sp.Rational(repr(float(v)))
    try:
        with warnings.catch_warnings():
            # "1if r else 2" and "1r" only warn (SyntaxWarning): refuse them instead of printing a warning.
            warnings.simplefilter("error", SyntaxWarning)
            tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise SpecError(f"cannot parse {text!r}: {exc.msg}{where}", "write a formula such as exp(-r**2/s**2)") from None
    except (ValueError, RecursionError, MemoryError):
        raise SpecError(f"cannot parse {text[:40]!r}", "write a shorter, plainer formula") from None
    try:
        expr = _Builder(text, names).build(tree)
    except RecursionError:
        raise SpecError(f"expression {text[:40]!r}... is nested too deeply", "simplify the formula") from None
    except (TypeError, ValueError, ArithmeticError) as exc:  # SpecError is a ValueError: keep its message
        if isinstance(exc, SpecError):
            raise
        raise SpecError(f"cannot build {text!r} ({type(exc).__name__})", "write a plainer formula") from None
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise SpecError(f"{text!r} divides by zero or is infinite for every r", "remove the division by zero")
    return expr


def free_names(text: str, known: Iterable[str] = ()) -> list[str]:
    """The names `text` uses as values that are neither in `known` nor constants (pi, E), sorted: the
    parameters a formula needs values for. Read from the syntax tree (nothing is evaluated); [] when the
    text does not parse (`parse_expr` reports that)."""
    try:
        tree = ast.parse(str(text).strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called}
    return sorted(used - set(known) - set(CONSTANTS))


def parse_spec(text: str, known: Iterable[str]) -> tuple[str, dict[str, float]]:
    """Parse a primitive spec such as ``"tanh"``, ``"leaky_relu(alpha=0.1)"`` or ``"huber(0.5)"``.

    Returns:
        (name, {param: value}); positional values are returned under the keys "0", "1", ...
    """
    known = set(known)
    if not isinstance(text, str) or not text or len(text) > 80:
        raise SpecError(f"bad primitive spec {text!r}", f"use one of {', '.join(sorted(known))}")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise SpecError(f"cannot parse {text!r}", "write name or name(param=value)") from None
    if isinstance(tree, ast.Name):
        name, args, kws = tree.id, [], []
    elif isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name):
        name, args, kws = tree.func.id, tree.args, tree.keywords
    else:
        raise SpecError(f"cannot parse {text!r}", "write name or name(param=value)")
    if name not in known:
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise SpecError(f"unknown name {name!r}{hint}", f"use one of {', '.join(sorted(known))}")
    out: dict[str, float] = {}

    def value(node):
        sign = 1.0
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            sign, node = -1.0, node.operand
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return sign * float(node.value)
        raise SpecError(f"parameter values in {text!r} must be numbers", "write e.g. huber(delta=0.5)")

    for i, a in enumerate(args):
        out[str(i)] = value(a)
    for k in kws:
        out[str(k.arg)] = value(k.value)
    return name, out


#: nonzero parameter values of activations and losses must lie within these magnitudes: beyond them the
#: primitive's values under- or overflow float64 (leaky_relu(alpha=1e308)). Kernel and penalty parameters
#: get the range their formula allows (`param_range`)
PARAM_MAGNITUDE = (1e-8, 1e8)

#: the largest decimal exponent a constant of a formula (or of its first and second derivatives) may reach
#: in float64 (1.8e308, normal numbers down to 2.2e-308) and in float32 (3.4e38, 1.2e-38): the decades
#: left are for what multiplies the constant (1/r^2 = 1e14 at verify's pair 1e-7 apart in H v, w, the
#: data; with 300, (s (r - q0))**2 at s = 1e150 overflowed H v there)
FLOAT64_DECADES = 280
FLOAT32_DECADES = 32


def _degree(e: sp.Basic, sym: sp.Symbol) -> float:
    """How strongly the constants of `e` scale with `sym`: the highest |power| of it in a product of
    polynomial factors or in a function's argument (1/s**2 -> 2, (1 - r/s)**4 -> 4, exp(-r/s) -> 1,
    sqrt(s) -> 0.5, exp(-r**2/s**2) (4 r**2/s**4 - 2/s**2) -> 4)."""
    if e == sym:
        return 1.0
    if not e.has(sym):
        return 0.0
    if isinstance(e, sp.Pow):
        base, exp = _degree(e.base, sym), e.exp
        return base * abs(float(exp)) if exp.is_number else base + _degree(exp, sym)
    if isinstance(e, sp.Mul):  # polynomial factors multiply their constants; a function's argument is its own
        poly = (sp.Symbol, sp.Pow, sp.Add, sp.Number)
        powers = sum(_degree(a, sym) for a in e.args if isinstance(a, poly))
        return max([powers, *(_degree(a, sym) for a in e.args if not isinstance(a, poly))])
    return max(_degree(a, sym) for a in e.args)


def param_range(exprs: Iterable[sp.Expr], sym: sp.Symbol, decades: int = FLOAT64_DECADES) -> tuple[float, float, float]:
    """(degree, low, high): the magnitudes of a parameter for which every constant it makes in `exprs`
    (a formula and its first and second derivatives) stays within 10**(+-decades): |value|**degree
    within it, in whole decades. In float64 a formula linear in it takes 1e-280..1e280, one with s**4
    1e-70..1e70."""
    deg = max((_degree(e, sym) for e in exprs), default=0.0)
    span = math.floor(decades / max(deg, 1.0))
    return deg, float(f"1e-{span}"), float(f"1e{span}")


def check_param_range(
    what: str, name: str, v: float, exprs: Iterable[sp.Expr], sym: sp.Symbol, decades: int = FLOAT64_DECADES, kind: str = "float64"
) -> None:
    """Refuse a nonzero value of parameter `name` outside `param_range` (one line: the value, the power of
    the parameter that overflows and the accepted range)."""
    deg, lo, hi = param_range(exprs, sym, decades)
    if v != 0 and not lo <= abs(v) <= hi:
        raise SpecError(
            f"{what} {name} = {v!r} is outside the range {kind} can evaluate: {name} enters to the power {deg:g} "
            f"(in the formula or its first two derivatives), so |{name}| must lie in [{lo:.0e}, {hi:.0e}]",
            f"give {name} a magnitude in [{lo:.0e}, {hi:.0e}] (or 0), rescaling r or the inputs instead",
        )


def check_magnitude(what: str, v: float, where: str = "") -> None:
    """Refuse a nonzero parameter value outside `PARAM_MAGNITUDE` (one line naming it and the range)."""
    lo, hi = PARAM_MAGNITUDE
    if v != 0 and not lo <= abs(v) <= hi:
        raise SpecError(
            f"{what} = {v!r}{f' ({where})' if where else ''} is outside the range float64 can evaluate",
            f"give it a magnitude between {lo:g} and {hi:g} (or 0), rescaling r or the inputs instead",
        )


def spec_values(name: str, spec: str, defaults: dict[str, float], given: dict[str, float]) -> dict[str, float]:
    """The parameter values of primitive `name`: `defaults` updated by `given` (from `parse_spec`;
    positional keys "0", "1", ... name the defaults in order), each checked to be a finite number."""
    values = dict(defaults)
    keys = list(defaults)
    for k, v in given.items():
        key = keys[int(k)] if k.isdigit() and int(k) < len(keys) else k
        if key not in defaults:
            raise SpecError(f"{name} has no parameter {key!r} (in {spec!r})", f"its parameters are: {', '.join(keys) or 'none'}")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or abs(v) == float("inf"):
            raise SpecError(f"{name} parameter {key} = {v!r} is not a finite number (in {spec!r})", f"give {key} a finite value")
        check_magnitude(f"{name} parameter {key}", v, f"in {spec!r}")
        values[key] = v
    return values
