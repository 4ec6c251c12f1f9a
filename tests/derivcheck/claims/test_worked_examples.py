"""The guide's ordinary-MLP worked examples (seed 001, sections 2.8, 3.9 and the end of 3.6.3),
reproduced by both engines to the digits printed there (the guide prints minus signs as '=').

Printed numbers that are wrong elsewhere in the guide are claims (claims/guide-*.toml), not tests."""

import numpy as np
import pytest

from derive import MLP, Params
from numeric import autograd, manual

SCALAR = MLP((1, 1, 1, 1), activations=("relu", "tanh", "sigmoid"), loss="sse_half")
SCALAR_P = Params(
    W=[np.array([[1.5]]), np.array([[0.5]]), np.array([[2.0]])], b=[np.array([-1.0]), np.array([0.1]), np.array([-0.3])]
)
VECTOR = MLP((2, 2, 2, 1), activations=("relu", "tanh", "sigmoid"), loss="sse_half")
VECTOR_P = Params(
    W=[np.array([[1.0, 2.0], [-0.5, 1.5]]), np.array([[0.7, -1.2], [1.1, 0.3]]), np.array([[1.4, -0.8]])],
    b=[np.array([0.1, -0.2]), np.array([0.05, -0.1]), np.array([0.2])],
)


def printed(value: float, text: str) -> bool:
    """True when `value` rounds to the printed decimal `text` (as many decimals as printed)."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return round(value, decimals) == float(text)


@pytest.fixture(scope="module", params=["manual", "torch"])
def scalar(request):
    X, Y = np.array([[2.0]]), np.array([[1.0]])
    g = (manual.gradients if request.param == "manual" else autograd.gradients)(SCALAR, SCALAR_P, X, Y)
    return manual.forward(SCALAR, SCALAR_P, X, Y), g


FORWARD = [  # (layer index, pre-activation z, activation a) of Tables 2.4 and 3.1
    (1, "2.0", "2.0"),
    (2, "1.1", "0.800499"),
    (3, "1.300998", "0.786003"),
]
GRADS = [  # (layer, dL/dw, dL/db) of Tables 2.5-2.7 and 3.9.6
    (1, "-0.025859", "-0.012929"),
    (2, "-0.051718", "-0.025859"),
    (3, "-0.028814", "-0.035995"),
]
UPDATED = [(1, "1.502586", "-0.998707"), (2, "0.505172", "0.102586"), (3, "2.002881", "-0.296401")]  # 3.9.7


@pytest.mark.parametrize("layer,z,a", FORWARD)
def test_forward_values(scalar, layer, z, a):
    cache, _ = scalar
    assert printed(cache.h[layer][0, 0], z) and printed(cache.a[layer][0, 0], a)


def test_loss(scalar):
    assert printed(scalar[1].loss, "0.022897")


@pytest.mark.parametrize("layer,dw,db", GRADS)
def test_gradients(scalar, layer, dw, db):
    _, g = scalar
    assert printed(g.dW[layer - 1][0, 0], dw) and printed(g.db[layer - 1][0], db)


def test_deltas_and_upstream_signals():
    X, Y = np.array([[2.0]]), np.array([[1.0]])
    g = manual.gradients(SCALAR, SCALAR_P, X, Y)
    delta, dA = g.delta, g.dA
    # Steps 16/A (dL/dy_hat), 18/C (delta_3), 24/D (dL/da_2), 26/F (delta_2), 32/G (dL/da_1), 34/I (delta_1)
    assert printed(dA[3][0, 0], "-0.213997") and printed(delta[3][0, 0], "-0.035995")
    assert printed(dA[2][0, 0], "-0.071990") and printed(delta[2][0, 0], "-0.025859")
    assert printed(dA[1][0, 0], "-0.012929") and printed(delta[1][0, 0], "-0.012929")


@pytest.mark.parametrize("layer,w,b", UPDATED)
def test_one_step_update(scalar, layer, w, b):
    _, g = scalar
    eta = 0.1
    assert printed(SCALAR_P.W[layer - 1][0, 0] - eta * g.dW[layer - 1][0, 0], w)
    assert printed(SCALAR_P.b[layer - 1][0] - eta * g.db[layer - 1][0], b)


@pytest.mark.parametrize("engine", [manual.gradients, autograd.gradients])
def test_input_gradient_end_of_3_6_3(engine):
    g = engine(VECTOR, VECTOR_P, np.array([[2.0, 1.0]]), np.array([[1.0]]))
    assert printed(g.dX[0, 0], "-0.00287601") and printed(g.dX[0, 1], "0.00096332")
    # the same example's Jacobian section (3.5.6) prints 0.000531 for the second entry: an erratum
    assert not printed(g.dX[0, 1], "0.000531")


def test_engines_agree_on_the_worked_examples():
    for net, p, X in ((SCALAR, SCALAR_P, [[2.0]]), (VECTOR, VECTOR_P, [[2.0, 1.0]])):
        m = manual.gradients(net, p, np.array(X), np.array([[1.0]]))
        t = autograd.gradients(net, p, np.array(X), np.array([[1.0]]))
        for a, b in zip(m.dW + m.db + [m.dX], t.dW + t.db + [t.dX]):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
