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
    assert repl and all(name.startswith("x_{") for name, _ in repl)
    assert reduced[2] == "- x"  # a single operation is never named


def test_net_latex_of_a_gaussian_tanh_mse_net():
    out = net_latex(Net((2, 2, 1), dim=3, kernel="gaussian", hidden="tanh", loss="mse"), batch=2)
    assert out["phi0_latex"] == "-2" and "tanh" in out["hidden_latex"]
    assert out["loss_def"].endswith("divided by } 2") and "a^{L}_{bk}" in out["loss_def"]
