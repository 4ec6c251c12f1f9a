"""numeric/validate.py: the input checks every numeric engine runs first; each failure is one
SpecError line naming the array, the problem and the fix."""

import numpy as np
import pytest
from helpers import random_data, random_params

from derive import MLP, Net, Params, SpecError
from numeric import manual
from numeric.validate import as_array, check_inputs, coincidence_error


@pytest.mark.parametrize(
    "bad, fragment",
    [
        (lambda p, X, Y: (p, X * np.nan, Y), "X contains NaN"),
        (lambda p, X, Y: (p, X, Y * np.inf), "Y contains NaN or Inf"),
        (lambda p, X, Y: (Params(Z=p.Z[:2]), X, Y), "3 coordinate arrays"),
        (lambda p, X, Y: (Params(Z=[p.Z[0], p.Z[1].T, p.Z[2]]), X, Y), "Z of layer 2 has shape"),
        (lambda p, X, Y: (p, X[:, :1], Y), "X has shape"),
    ],
)
def test_bad_data_gets_one_line_error(bad, fragment):
    net = Net((2, 3, 1), dim=2)
    p, (X, Y) = random_params(net), random_data(net)
    with pytest.raises(SpecError, match=fragment) as info:
        manual.gradients(net, *bad(p, X, Y))
    assert "\n" not in str(info.value)


def test_check_inputs_converts_to_the_requested_dtype():
    net = Net((2, 3, 1), dim=2, bias=True)
    p, (X, Y) = random_params(net), random_data(net)
    Z, W, b, Xa, Ya = check_inputs(net, p, X.tolist(), Y, np.float32)
    assert W is None and [z.shape for z in Z] == [(2, 2), (3, 2), (1, 2)] and [v.shape for v in b] == [(3,), (1,)]
    assert all(a.dtype == np.float32 for a in [*Z, *b, Xa, Ya])


@pytest.mark.parametrize(
    "params, fragment",
    [
        (Params(W=[np.ones((3, 2))]), "params.W must hold 2 weight matrices"),
        (Params(W=[np.ones((2, 3)), np.ones((1, 3))]), "W of layer 2 has shape"),
        (Params(W=[np.ones((3, 2)), np.ones((1, 3))]), "net has biases: params.b must hold 2 vectors"),
        (Params(W=[np.ones((3, 2)), np.ones((1, 3))], b=[np.ones(3), np.ones(2)]), "b of layer 3 has length 2"),
    ],
)
def test_mlp_parameters_are_checked(params, fragment):
    net = MLP((2, 3, 1), activations="tanh", bias=True)
    X, Y = random_data(net)
    with pytest.raises(SpecError, match=fragment) as info:
        check_inputs(net, params, X, Y)
    assert "\n" not in str(info.value)


def test_as_array_names_the_array_and_the_index():
    with pytest.raises(SpecError, match="X has dtype <U1, not a number type"):
        as_array([["a", "b"]], "X", np.float64)
    with pytest.raises(SpecError, match=r"Y contains NaN or Inf at index \(1, 0\)"):
        as_array([[0.0], [np.inf]], "Y", np.float64)
    with pytest.raises(SpecError, match=r"Y has shape \(3, 1\), expected \(2, 1\)"):
        net = Net((2, 1), dim=1)
        check_inputs(net, random_params(net), np.ones((2, 2)), np.ones((3, 1)))


def test_coincidence_error_names_both_nodes():
    err = coincidence_error(Net((1, 2, 1), dim=2, kernel="exponential"), 2, 1, 0)
    assert isinstance(err, SpecError)
    assert "node 2 of layer 2 and node 1 of layer 1" in str(err) and "\n" not in str(err)
    with pytest.raises(SpecError, match="coincide"):
        manual.gradients(
            Net((1, 1, 1), dim=2, kernel="exponential"),
            Params(Z=[np.zeros((1, 2)), np.zeros((1, 2)), np.ones((1, 2))]),
            np.ones((1, 1)),
            np.zeros((1, 1)),
        )
