"""derive.symbolic.formula_view: the exact forward cache that formula proofs read."""

from __future__ import annotations

import sympy as sp

from derive import MLP, Net
from derive.decide import is_zero
from derive.symbolic.formula_view import symbolic_view


def test_mlp_view_delta_is_eq4_of_math_md():
    net = MLP((2, 2, 1), activations=("tanh", "identity"), loss="sse_half", bias=False)
    v = symbolic_view(net, 1, generic=False)
    # output layer with identity and sse_half: delta_L = a_L - y
    assert is_zero(v["delta"][2][0, 0] - (v["a"][2][0, 0] - v["Y"][0, 0]))
    # dL/dW_L = delta_L^T a_(L-1) (eq. (4))
    assert is_zero(v["dW"][2][0, 1] - v["delta"][2][0, 0] * v["a"][1][0, 1])
    assert v["dZ"] is None and v["Z"] is None


def test_generic_view_uses_undefined_activations():
    net = MLP((1, 1, 1), activations=("tanh", "identity"), loss="mse", bias=True)
    v = symbolic_view(net, 1, generic=True)
    assert v["a"][1][0, 0].atoms(sp.core.function.AppliedUndef)
    assert v["db"][1].shape == (1,)


def test_spatial_view_weights_are_the_kernel_of_distances():
    net = Net((1, 1), dim=1, kernel="gaussian", hidden="identity", output="identity", loss="mse")
    v = symbolic_view(net, 1, generic=False)
    z0, z1 = v["Z"][0][0, 0], v["Z"][1][0, 0]
    assert is_zero(v["W"][1][0, 0] - sp.exp(-((z1 - z0) ** 2)))
    assert len(v["dZ"]) == 2
