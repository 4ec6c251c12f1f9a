"""derive.symbolic.layered_hvp: the R-operator by layers on Arb balls equals the whole-loss program's
Hessian (derived by SymPy) to 40 digits, entry by entry, over the wider model family and its
adversarial cases, for the full Hessian (both layouts) and for H v in every form of V."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from derive import MLP, Net, SpecError
from derive import symbolic as sym
from derive.primitives.penalty import penalty
from numeric.draws import adversarial_cases, draw_case

DIGITS = 40
PENALTY = penalty("w**2*r**2")

_FAMILY = [
    Net((3, 4, 2), dim=2, kernel="exp(-r**2/s**2)", kernel_params=(("s", 0.7),), hidden="tanh", output="identity", loss="mse"),
    Net((2, 3, 2), dim=3, kernel="gaussian", hidden="sigmoid", output="sigmoid", loss="bce", bias=True),
    Net((2, 3, 2), dim=2, kernel="gaussian", hidden="tanh", output="identity", loss="softmax_ce", amplitudes="free"),
    Net(
        (2, 3, 2),
        dim=2,
        kernel="gaussian",
        hidden="softplus",
        output="identity",
        loss="mse",
        penalties=(penalty("w**2*r**2"),),
        bias=True,
    ),
    Net((2, 2, 2, 1), dim=2, kernel="inverse_quadratic", hidden="tanh", output="identity", loss="huber(delta=0.5)"),
    MLP((3, 4, 2), activations=("tanh", "identity"), loss="mse", bias=True, penalties=(penalty("w**2"),)),
]


def _rel(a, b) -> float:
    with mpmath.workdps(70):
        A = np.array(a.tolist(), dtype=object).reshape(-1)
        B = np.array(b.tolist(), dtype=object).reshape(-1)
        scale = max(abs(x) for x in A)
        return float(max(abs(x - y) for x, y in zip(A, B)) / max(scale, mpmath.mpf(1e-300)))


@pytest.mark.parametrize("net", _FAMILY, ids=lambda n: n.describe()[:40])
def test_the_hessian_on_balls_equals_the_programs_to_40_digits(net):
    rng = np.random.default_rng(5)
    from derive import layout

    one_per_kind = {c.kind: c for c in reversed(adversarial_cases(net, rng, batch=2))}  # near, coincident, ...
    for case in [draw_case(net, rng, batch=2), *one_per_kind.values()]:
        for wrt in (None, layout.main_group(net)):
            exact = sym.hessian(net, case.params, case.X, case.Y, wrt=wrt, mp=True)
            balls = sym.hessian(net, case.params, case.X, case.Y, wrt=wrt, mp=True, backend="arb")
            assert (balls.rows, balls.cols) == (exact.rows, exact.cols)
            assert _rel(exact, balls) < 10.0**-DIGITS, (net.describe(), case.kind, wrt)
            assert _rel(balls, balls.T) < 10.0**-DIGITS  # symmetric, as a Hessian is


@pytest.mark.parametrize("net", _FAMILY[1:4] + _FAMILY[5:], ids=lambda n: n.describe()[:40])
def test_h_v_on_balls_equals_the_programs_in_every_form_of_v(net):
    from derive import layout

    rng = np.random.default_rng(7)
    case = draw_case(net, rng, batch=3)
    blocks = [rng.normal(size=s) for _, _, s in layout.shapes(net)]
    main = blocks[: layout.n_main(net)]
    for V in (blocks, main, np.concatenate([b.reshape(-1) for b in blocks])):
        want = sym.hvp(net, case.params, case.X, case.Y, V)
        got = sym.hvp(net, case.params, case.X, case.Y, V, backend="arb")
        for w, g in zip(want if isinstance(want, list) else [want], got if isinstance(got, list) else [got]):
            np.testing.assert_allclose(g, w, rtol=1e-14, atol=1e-14 * max(1.0, float(np.abs(w).max())))


def test_coincident_nodes_where_the_hessian_is_undefined_are_refused_as_by_the_program():
    net = Net((1, 1), dim=2, kernel="exp(-r)", hidden="tanh", output="identity", loss="mse")
    Z = [np.array([[0.2, 0.1]]), np.array([[0.2, 0.1]])]
    from derive import Params

    for backend in ("mpmath", "arb"):
        with pytest.raises(SpecError, match="coincide"):
            sym.hessian(net, Params(Z=Z), np.ones((1, 1)), np.zeros((1, 1)), backend=backend)


def test_an_unknown_backend_is_one_line():
    net = _FAMILY[0]
    c = draw_case(net, np.random.default_rng(0))
    with pytest.raises(SpecError, match="unknown truth backend"):
        sym.hessian(net, c.params, c.X, c.Y, backend="floats")
