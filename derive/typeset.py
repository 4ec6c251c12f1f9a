"""LaTeX of exact objects, for the reports: common-subexpression form of long derivatives, and the
definitions of a net's primitives (kernel g, g', phi, phi(0), activations, loss)."""

from __future__ import annotations

import re
from collections.abc import Callable

import sympy as sp

from derive.net import Net

__all__ = ["latex", "cse_latex", "net_latex", "symbol_names", "NOTATION", "LINE"]

#: the one index convention of every report, explained once in it: layer l in parentheses, then node i and
#: dimension d (or batch row b and unit j), all 1-based
NOTATION: dict[re.Pattern[str], Callable[..., str]] = {
    re.compile(r"z(\d+)_(\d+)_(\d+)"): lambda l, i, d: f"z^{{({l})}}_{{{int(i) + 1},{int(d) + 1}}}",
    re.compile(r"w(\d+)_(\d+)_(\d+)"): lambda l, i, j: f"w^{{({l})}}_{{{int(i) + 1},{int(j) + 1}}}",
    re.compile(r"t(\d+)_(\d+)_(\d+)"): lambda l, i, j: f"\\theta^{{({l})}}_{{{int(i) + 1},{int(j) + 1}}}",
    re.compile(r"b(\d+)_(\d+)"): lambda l, i: f"b^{{({l})}}_{{{int(i) + 1}}}",
    re.compile(r"x(\d+)_(\d+)"): lambda b, j: f"x_{{{int(b) + 1},{int(j) + 1}}}",
    re.compile(r"y(\d+)_(\d+)"): lambda b, k: f"y_{{{int(b) + 1},{int(k) + 1}}}",
    re.compile(r"xi(\d+)"): lambda k: f"\\xi_{{{k}}}",  # common subexpressions: a letter no input uses
}
#: LaTeX characters of one named piece before it is cut further (about one printed line at 10pt on A4)
LINE = 160


def symbol_names(exprs) -> dict[sp.Symbol, str]:
    """{symbol: LaTeX name} for the symbols of `exprs` named by `derive.symbolic.flat_loss` (z2_0_1 ->
    z^{(2)}_{1,2}, x0_1 -> x_{1,2}, ...) and by `cse_latex` (xi3 -> \\xi_{3})."""
    out: dict[sp.Symbol, str] = {}
    for e in exprs:
        for s in getattr(sp.sympify(e), "free_symbols", ()):
            for pattern, name in NOTATION.items():
                m = pattern.fullmatch(s.name)
                if m:
                    out[s] = name(*m.groups())
                    break
    return out


def latex(expr, names: dict | None = None) -> str:
    """LaTeX of one exact expression (a SymPy expression or Matrix) in the reports' notation."""
    return sp.latex(expr, symbol_names=symbol_names([expr]) if names is None else names)


def _long(e, limit: int) -> bool:
    return len(sp.latex(e)) > limit


def _cut(e: sp.Expr, fresh, named: list, limit: int, top: bool = True) -> sp.Expr:
    """`e` with every piece LaTeX cannot break across lines (a factor, a fraction's numerator or
    denominator, a power's base or exponent, a function's argument) longer than `limit` characters named
    by a fresh symbol, innermost first; sums stay, since breqn breaks a line at + and -."""
    if e.is_Atom:
        return e
    args = [_cut(a, fresh, named, limit, top=False) for a in e.args]
    if not isinstance(e, sp.Add):
        for k, a in enumerate(args):
            if not a.is_Atom and _long(a, limit):
                s = next(fresh)
                named.append((s, a))
                args[k] = s
    return e.func(*args)


def cse_latex(exprs, limit: int = LINE) -> tuple[list[tuple[str, str]], list[str]]:
    """`sympy.cse` of `exprs` for typesetting: ([(name, definition) ...], [reduced expression ...]) as
    LaTeX in the reports' notation. Replacements that are a single operation (-z) are put back inline,
    since naming them makes the page longer, not clearer; the rest are named \\xi_1, \\xi_2, ... (no
    input is called xi, so names cannot collide), and pieces LaTeX cannot break that are longer than
    `limit` characters are named too, so every line fits the page."""
    repl, red = sp.cse(list(exprs), symbols=sp.numbered_symbols("t"))
    keep: list[tuple[sp.Symbol, sp.Expr]] = []
    inline: dict[sp.Symbol, sp.Expr] = {}
    for s, e in repl:
        e = e.xreplace(inline)
        if sp.count_ops(e) <= 1:
            inline[s] = e
        else:
            keep.append((s, e))
    red = [e.xreplace(inline) for e in red]
    tmp = sp.numbered_symbols("cut")
    out: list[tuple[sp.Symbol, sp.Expr]] = []
    for s, e in keep:  # a cut piece is defined just before the definition that uses it
        pieces: list = []
        e = _cut(e, tmp, pieces, limit)
        out += [*pieces, (s, e)]
    cut_red = []
    for e in red:
        pieces = []
        cut_red.append(_cut(e, tmp, pieces, limit))
        out += pieces
    names = {s: sp.Symbol(f"xi{k + 1}", real=True) for k, (s, _) in enumerate(out)}
    out = [(names[s], e.xreplace(names)) for s, e in out]
    red = [e.xreplace(names) for e in cut_red]
    sym = symbol_names([e for _, e in out] + red + [s for s, _ in out])
    return [(latex(s, sym), latex(e, sym)) for s, e in out], [latex(e, sym) for e in red]


def net_latex(net: Net, batch: int) -> dict[str, str]:
    """LaTeX of a spatial net's primitives: g_latex, dg_latex, phi_latex, phi0_latex (kernel g, g',
    phi = g'/r, phi(0+)), hidden_latex ("-" without hidden layers), output_latex (activations in x),
    and loss_def (one row's loss of a^{(L)}_{b,k} against y_{b,k}, with the batch reduction)."""
    k = net.g
    a, y = sp.Symbol("a", real=True), sp.Symbol("y", real=True)
    loss_def = sp.latex(net.objective.row([a], [y]), symbol_names={a: "a^{(L)}_{b,k}", y: "y_{b,k}"})
    return {
        "g_latex": sp.latex(k.bound),
        "dg_latex": sp.latex(k.dg),
        "phi_latex": sp.latex(k.phi),
        "phi0_latex": sp.latex(k.phi0),
        "hidden_latex": sp.latex(net.f(2).expr) if net.L > 2 else "-",
        "output_latex": sp.latex(net.f(net.L).expr),
        "loss_def": loss_def
        + (r"\ \text{summed over } b,k \text{ and divided by } " + str(net.objective.divisor(batch, net.widths[-1]))),
    }


def penalty_latex(net: Net) -> list[dict[str, str]]:
    """LaTeX of each penalty term of a spatial net, in r and w: rho, its partials rho_r and rho_w, the
    factor c in front of the edge sum (scale, or scale / edges for a mean), and the layers it covers."""
    out = []
    for p in net.penalties:
        layers = p.covers(net.L)
        edges = sum(net.widths[l - 1] * net.widths[l - 2] for l in layers)
        c = sp.Rational(p.coef_exact(net.widths))
        out.append(
            {
                "rho": sp.latex(p.d["rho"]),
                "rho_r": sp.latex(p.d["rho_r"]),
                "rho_w": sp.latex(p.d["rho_w"]),
                "c": sp.latex(c),
                "how": f"scale {p.scale:g}" + ("" if p.reduce == "sum" else f" over the mean's {edges} edges"),
                "layers": ", ".join(map(str, layers)),
            }
        )
    return out
