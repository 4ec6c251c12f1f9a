"""derive.typeset: LaTeX of exact objects for the reports."""

from __future__ import annotations

import sympy as sp

from derive import Net
from derive.typeset import cse_latex, net_latex


def test_cse_latex_names_repeated_work_and_inlines_single_operations():
    x, y = sp.symbols("x y", real=True)
    e = sp.exp(x * y + x)
    repl, reduced = cse_latex([sp.sin(e) + e, sp.cos(e) * e, -x])
    assert len(reduced) == 3 and all(isinstance(t, str) for t in reduced)
    assert repl and all(name.startswith("\\xi_{") for name, _ in repl)
    assert reduced[2] == "- x"  # a single operation is never named


def test_net_latex_of_a_gaussian_tanh_mse_net():
    out = net_latex(Net((2, 2, 1), dim=3, kernel="gaussian", hidden="tanh", loss="mse"), batch=2)
    assert out["phi0_latex"] == "-2" and "tanh" in out["hidden_latex"]
    assert out["loss_def"].endswith("divided by } 2") and "a^{(L)}_{b,k}" in out["loss_def"]


def test_report_notation_is_one_based_and_cse_names_cannot_collide_with_inputs():
    from derive import symbolic
    from derive.typeset import latex

    z, x = sp.Symbol("z1_0_2", real=True), sp.Symbol("x0_1", real=True)
    assert latex(z + x) == "x_{1,2} + z^{(1)}_{1,3}"
    d = symbolic.derivation(Net((2, 2, 1), dim=2, kernel="gaussian", hidden="tanh"))
    repl, reduced = cse_latex([d.loss] + list(d.dZ[0]))
    names = [n for n, _ in repl]
    assert names == [f"\\xi_{{{k + 1}}}" for k in range(len(names))]  # xi_1, xi_2, ...: never x_{..}
    text = " ".join(e for _, e in repl) + " ".join(reduced)
    assert "x_{1,1}" in text and "z^{(2)}_{1,1}" in text and "z_{" not in text


def test_cse_latex_cuts_pieces_latex_cannot_break():
    xs = sp.symbols("x0_0:12", real=True)
    e = sp.exp(-sum((v - k) ** 2 for k, v in enumerate(xs))) / (1 + sum(v**3 for v in xs))
    repl, reduced = cse_latex([e], limit=80)
    assert len(repl) >= 2
    assert all(len(d) <= 400 for _, d in repl)  # each piece is one breakable sum of short terms
