"""The ground truth on Arb balls (derive.symbolic.balls, ``gradients(backend="arb")``): it agrees with the
mpmath truth to 40 digits on the quick verification matrix and the presets, every radius is below 1e-40
of its scale there, and a kink inside a ball is reported undecided while a point exactly on the kink
takes the stated subgradient."""

from __future__ import annotations

import dataclasses

import mpmath
import numpy as np
import pytest

import derive.symbolic as sym
from derivcheck.netspec.read import load_net
from derivcheck.verify.cases import matrix_cases
from derive.net import MLP, Net, Params
from derive.symbolic.balls import Undecided
from numeric.draws import draw_case
from tests.helpers import REPO

FIELDS = ("loss", "dW", "dZ", "dtheta", "db", "dX", "delta", "dA")


def _arrays(mp, name):
    v = mp[name]
    if v is None:
        return []
    if not isinstance(v, list):
        return [np.asarray(v, dtype=object).reshape(-1)]
    return [np.asarray(a, dtype=object).reshape(-1) for a in v if a is not None]


def _assert_agree(case_name, net, params, X, Y):
    ref = sym.gradients(net, params, X, Y)
    got = sym.gradients(net, params, X, Y, backend="arb")
    assert got.extra["backend"] == "arb" and got.extra["dps"] == 50, case_name
    for name in FIELDS:
        for want, mid, ball in zip(_arrays(ref.extra["mp"], name), _arrays(got.extra["mp"], name), _arrays(got.extra["arb"], name)):
            scale = max(abs(v) for v in want) if want.size else 0
            for w, m, b in zip(want, mid, ball):
                s = max(abs(w), scale, mpmath.mpf(2) ** -1074)
                assert abs(m - w) <= mpmath.mpf("1e-40") * s, (case_name, name, w, m)
                assert b.is_finite() and float(b.rad()) <= 1e-40 * float(s), (case_name, name, b)


@pytest.mark.parametrize("case", matrix_cases(0, quick=True), ids=lambda c: c.id)
def test_arb_truth_agrees_with_mpmath_on_the_quick_matrix(case):
    _assert_agree(case.id, case.net, case.params, case.X, case.Y)


@pytest.mark.parametrize("preset", sorted(p.name for p in (REPO / "presets").glob("*.toml")))
def test_arb_truth_agrees_with_mpmath_on_the_presets(preset):
    net = load_net(REPO / "presets" / preset).net
    case = draw_case(net, np.random.default_rng(7))
    _assert_agree(preset, net, case.params, case.X, case.Y)


def test_relu_exactly_at_its_kink_is_a_point_with_the_stated_subgradient():
    # h = 0.5 * 1 + 0.5 * (-1) + 0 = 0 exactly: the ball is the point 0, ReLU'(0) = 0 decided
    net = MLP((2, 2, 1), activations=("relu", "identity"), loss="sse_half", bias=True)
    p = Params(W=[np.array([[0.5, 0.5], [1.0, -2.0]]), np.array([[1.0, 1.0]])], b=[np.zeros(2), np.zeros(1)])
    X, Y = np.array([[1.0, -1.0]]), np.array([[0.25]])
    got = sym.gradients(net, p, X, Y, backend="arb")
    ref = sym.gradients(net, p, X, Y)
    assert got.extra["dps"] == 50
    assert got.delta[1][0, 0] == 0.0  # the first hidden node sits on the kink: no signal passes
    for a, b in zip(got.dW, ref.dW):
        np.testing.assert_array_equal(a, b)


def test_relu_kink_inside_the_ball_is_undecided():
    # two inputs at equal distance from the hidden node, x = (0.5, -0.5): h = g(1)/2 - g(1)/2, a ball around
    # 0 (the two products are separate roundings), so ReLU'(h) is 0 or 1: undecided at every precision
    net = Net((2, 1, 1), dim=2, kernel="gaussian", hidden="relu", output="identity", loss="sse_half", bias=False)
    p = Params(Z=[np.array([[-1.0, 0.0], [1.0, 0.0]]), np.array([[0.0, 0.0]]), np.array([[0.0, 1.0]])])
    X, Y = np.array([[0.5, -0.5]]), np.array([[0.3]])
    with pytest.raises(Undecided, match="undecided at 200 digits") as info:
        sym.gradients(net, p, X, Y, backend="arb")
    assert info.value.dps == 200 and info.value.rel > 1e-30
    sym.gradients(net, p, X, Y)  # mpmath still returns its number (the two roundings agree there)


def test_abs_w_penalty_at_w_zero_takes_the_subgradient_zero():
    spec = load_net(REPO / "presets" / "bimt.toml").net
    case = draw_case(spec, np.random.default_rng(3))
    theta = [t.copy() for t in case.params.theta]
    theta[0][1, 2] = 0.0  # |w| at w = 0 exactly: d|w|/dw = sign(0) = 0
    params = dataclasses.replace(case.params, theta=theta)
    _assert_agree("bimt theta = 0", spec, params, case.X, case.Y)


def test_a_ball_too_wide_at_the_first_digits_is_recomputed_at_more():
    # at 20 digits every radius is ~1e-20 of its value, above 1e-30: the program runs again at 40
    case = matrix_cases(0, quick=True)[2]
    got = sym.gradients(case.net, case.params, case.X, case.Y, backend="arb", dps=20)
    ref = sym.gradients(case.net, case.params, case.X, case.Y)
    assert got.extra["dps"] == 40
    for a, b in zip(got.dZ, ref.dZ):
        np.testing.assert_array_equal(a, b)


def test_a_primitive_arb_cannot_print_falls_back_to_mpmath(monkeypatch):
    import derive.lambdify as lam

    monkeypatch.setattr(lam, "_ARB_FUNCTIONS", lam._ARB_FUNCTIONS - {"tan"})
    net = Net((2, 2, 1), dim=2, kernel="exp(-r**2)*(2 + tan(r/7))", hidden="tanh", output="identity", loss="mse", bias=False)
    case = draw_case(net, np.random.default_rng(11))
    got = sym.gradients(net, case.params, case.X, case.Y, backend="arb")
    ref = sym.gradients(net, case.params, case.X, case.Y)
    assert got.extra["backend"] == "mpmath" and "tan" in got.extra["arb_fallback"] and "arb" not in got.extra
    for a, b in zip(got.dZ, ref.dZ):
        np.testing.assert_array_equal(a, b)
