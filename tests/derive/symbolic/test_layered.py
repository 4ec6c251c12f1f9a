"""derive.symbolic.layered: the ground truth by layers on Arb balls equals the whole-loss program (derived
by SymPy without eq. (8)) to 40 digits on every case of the verification matrix and on the wider model
family's adversarial cases; the route is chosen by size; a kink inside a ball is undecided, not guessed."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from derive import MLP, Net, Params, SpecError
from derive import symbolic as sym
from derive.primitives.penalty import penalty
from derive.symbolic.balls import Undecided, to_mpf
from derive.symbolic.layered import PROGRAM_LIMIT, route_for
from numeric.draws import adversarial_cases, draw_case

DIGITS = 40


def _arrays(fields, name):
    v = fields[name]
    if v is None:
        return []
    return [a for a in (v if isinstance(v, list) else [v]) if a is not None]


def _agree(case) -> float:
    """The largest |program - layers| over every quantity, relative to the problem's scale (the
    largest exact value): the program in mpmath at 60 digits, the layers' ball midpoints."""
    program = sym.gradients(case.net, case.params, case.X, case.Y, dps=60).extra["mp"]
    layers = sym.gradients(case.net, case.params, case.X, case.Y, backend="arb", route="layers")
    assert layers.extra["route"] == "layers"
    balls = layers.extra["arb"]
    worst, scale = mpmath.mpf(0), mpmath.mpf(0)
    with mpmath.workdps(70):
        for name in ("loss", "dW", "dZ", "dtheta", "db", "dX", "delta", "dA"):
            want, got = _arrays(program, name), _arrays(balls, name)
            assert len(want) == len(got), name
            for w, g in zip(want, got):
                w, g = np.asarray(w, dtype=object).reshape(-1), np.asarray(g, dtype=object).reshape(-1)
                assert w.shape == g.shape, name
                for a, b in zip(w, g):
                    scale = max(scale, abs(a))
                    worst = max(worst, abs(a - to_mpf(b)))
    return float(worst / max(scale, mpmath.mpf(1e-300)))


def test_every_case_of_the_verification_matrix_agrees_to_40_digits():
    from derivcheck.verify.cases import drawn_cases, matrix_cases

    cases = matrix_cases(0) + drawn_cases(0, 24)
    assert len(cases) == 360
    worst = max(_agree(c) for c in cases)
    assert worst < 10.0**-DIGITS, worst


WEIGHT_DECAY, L1_LAST = penalty("w**2"), penalty({"rho": "abs(w)", "layers": [3]})
_FAMILY = [
    Net((3, 4, 2), dim=2, kernel="exp(-r**2/s**2)", kernel_params=(("s", 0.7),), hidden="tanh", output="identity", loss="mse"),
    Net((2, 3, 3, 2), dim=3, kernel="gaussian", hidden="sigmoid", output="sigmoid", loss="bce", bias=True),
    Net((2, 3, 2), dim=2, kernel="gaussian", hidden="relu", output="identity", loss="softmax_ce", amplitudes="free"),
    Net((2, 3, 2), dim=2, kernel="gaussian", hidden="tanh", output="identity", loss="mse", penalties=(penalty("w**2*r**2"),)),
    Net(
        (2, 3, 2),
        dim=2,
        kernel="gaussian",
        hidden="leaky_relu(alpha=0.1)",
        output="identity",
        loss="huber(delta=0.5)",
        penalties=(penalty({"rho": "abs(w)*r", "scale": 0.3, "reduce": "mean"}),),
        relu_grad_at_zero=1,
        loss_reduction="batch",
    ),
    Net((2, 3, 2), dim=2, kernel="sin(r)/r", hidden="tanh", output="identity", loss="sse_half"),
    MLP((3, 4, 2), activations=("relu", "identity"), loss="huber(delta=0.5)", bias=True, relu_grad_at_zero=0.5),
    MLP(
        (3, 4, 2),
        activations=("tanh", "identity"),
        loss="mse",
        penalties=(penalty("w**2"), penalty({"rho": "abs(w)", "layers": [3]})),
    ),
]


@pytest.mark.parametrize("net", _FAMILY, ids=lambda n: n.describe()[:40])
def test_the_wider_family_and_its_adversarial_cases_agree(net):
    rng = np.random.default_rng(3)
    for case in [draw_case(net, rng, batch=3), *adversarial_cases(net, rng, batch=3)]:
        assert _agree(case) < 10.0**-DIGITS, (net.describe(), case.kind)


def test_the_route_is_chosen_by_size():
    small = Net((3, 4, 2), dim=2, kernel="gaussian", hidden="tanh", output="identity", loss="mse")
    big = Net((48, 32, 10), dim=2, kernel="gaussian", hidden="tanh", output="identity", loss="mse")
    assert route_for(small, 3) == "program" and route_for(big, 3) == "layers"
    rng = np.random.default_rng(0)
    c = draw_case(big, rng, batch=3)
    g = sym.gradients(big, c.params, c.X, c.Y, backend="arb")
    assert g.extra["route"] == "layers" and g.extra["dps"] == 50
    # the float64 midpoints against the fast manual engine: the same numbers to float64 rounding
    from numeric import manual

    m = manual.gradients(big, c.params, c.X, c.Y)
    for a, b in zip(g.dZ, m.dZ):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12 * np.abs(a).max())
    c = draw_case(small, rng, batch=3)
    assert sym.gradients(small, c.params, c.X, c.Y, backend="arb").extra["route"] == "program"
    assert PROGRAM_LIMIT > 0


def test_a_kink_inside_a_ball_is_undecided_not_guessed():
    """h = a g(r) - a g(r) is exactly 0, but g(r) is transcendental: its ball is [0 +/- tiny] at every
    precision, so ReLU'(h) is undecided (0 or 1); the truth says so instead of picking a side."""
    net = Net((2, 1, 1), dim=1, kernel="gaussian", hidden="relu", output="identity", loss="mse")
    Z = [np.array([[-0.5], [0.5]]), np.array([[0.0]]), np.array([[0.3]])]
    X, Y = np.array([[1.0, -1.0]]), np.array([[0.2]])
    with pytest.raises(Undecided, match="undecided at 200 digits"):
        sym.gradients(net, Params(Z=Z), X, Y, backend="arb", route="layers")
    # the same value on a point (X = 0: h is exactly 0) takes the stated subgradient and is decided
    g = sym.gradients(net, Params(Z=Z), np.zeros((1, 2)), Y, backend="arb", route="layers")
    assert g.extra["dps"] == 50


def test_a_value_exactly_zero_by_cancellation_is_decided_at_the_problem_scale():
    """db = the sum of two batch rows that cancel (mae, identity): a ball around 0 of radius 1e-51 is
    far below float64 resolution at the problem's scale, so it is decided (it was undecided at every
    precision when each array was its own scale)."""
    from derivcheck.verify.cases import matrix_cases

    case = next(c for c in matrix_cases(0) if c.id == "m060")
    for route in ("program", "layers"):
        g = sym.gradients(case.net, case.params, case.X, case.Y, backend="arb", route=route)
        assert abs(g.db[0]).max() < 1e-40 and g.extra["dps"] == 50


@pytest.mark.parametrize(
    "kwargs, match",
    [({"route": "sideways"}, "unknown truth route"), ({"route": "layers", "backend": "mpmath"}, "runs on balls")],
)
def test_bad_routes_are_one_line_errors(kwargs, match):
    net = Net((2, 2), dim=2, kernel="gaussian", hidden="tanh", output="identity", loss="mse")
    c = draw_case(net, np.random.default_rng(0))
    with pytest.raises(SpecError, match=match):
        sym.gradients(net, c.params, c.X, c.Y, **kwargs)
