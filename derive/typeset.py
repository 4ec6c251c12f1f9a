"""LaTeX of exact objects, for the reports: common-subexpression form of long derivatives, and the
definitions of a net's primitives (kernel g, g', phi, phi(0), activations, loss)."""

from __future__ import annotations

import sympy as sp

from .net import Net

__all__ = ["latex", "cse_latex", "net_latex"]


def latex(expr) -> str:
    """LaTeX of one exact expression (a SymPy expression or Matrix)."""
    return sp.latex(expr)


def cse_latex(exprs) -> tuple[list[tuple[str, str]], list[str]]:
    """`sympy.cse` of `exprs` for typesetting: ([(name, definition) ...], [reduced expression ...]) as
    LaTeX. Replacements that are a single operation (x0 = -z_100) are put back inline, since naming
    them makes the page longer, not clearer; the rest are renumbered x_{0}, x_{1}, ..."""
    repl, red = sp.cse(list(exprs), symbols=sp.numbered_symbols("t"))
    keep: list[tuple[sp.Symbol, sp.Expr]] = []
    inline: dict[sp.Symbol, sp.Expr] = {}
    for s, e in repl:
        e = e.xreplace(inline)
        if sp.count_ops(e) <= 1:
            inline[s] = e
        else:
            keep.append((s, e))
    names = {s: sp.Symbol(f"x_{{{k}}}") for k, (s, _) in enumerate(keep)}
    keep = [(names[s], e.xreplace(names)) for s, e in keep]
    red = [e.xreplace(inline).xreplace(names) for e in red]
    return [(sp.latex(s), sp.latex(e)) for s, e in keep], [sp.latex(e) for e in red]


def net_latex(net: Net, batch: int) -> dict[str, str]:
    """LaTeX of a spatial net's primitives: g_latex, dg_latex, phi_latex, phi0_latex (kernel g, g',
    phi = g'/r, phi(0+)), hidden_latex ("-" without hidden layers), output_latex (activations in x),
    and loss_def (one row's loss of a^L_{bk} against y_{bk}, with the batch reduction)."""
    k = net.g
    a, y = sp.Symbol("a^{L}_{b k}"), sp.Symbol("y_{b k}")
    loss_def = sp.latex(net.objective.row([a], [y])).replace("a^{L}_{b k}", "a^{L}_{bk}")
    return {
        "g_latex": sp.latex(k.bound), "dg_latex": sp.latex(k.dg), "phi_latex": sp.latex(k.phi),
        "phi0_latex": sp.latex(k.phi0),
        "hidden_latex": sp.latex(net.f(2).expr) if net.L > 2 else "-",
        "output_latex": sp.latex(net.f(net.L).expr),
        "loss_def": loss_def + (r"\ \text{summed over } b,k \text{ and divided by } "
                                + str(net.objective.divisor(batch, net.widths[-1]))),
    }
