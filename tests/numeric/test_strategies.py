"""numeric/strategies.py: the public hypothesis strategies draw what their docstrings promise (shapes,
ranges, targets that suit the loss, the adversarial configurations), and accept a value or a strategy."""

import numpy as np
import pytest
from helpers import random_data
from hypothesis import given
from hypothesis import strategies as st

from derive import MLP, Net
from numeric import strategies
from numeric.draws import ADVERSARIAL_KINDS, Case, make_adversarial, suited_targets
from numeric.validate import check_inputs


@given(strategies.cases())
def test_cases_are_valid_inputs_of_the_engines(case):
    net, params, X, Y = case
    assert isinstance(net, Net) and 2 <= net.L <= 4 and all(1 <= n <= 4 for n in net.widths)
    assert 1 <= net.dim <= 3
    check_inputs(net, params, X, Y)  # shapes and finiteness: raises SpecError otherwise
    assert np.all(np.abs(X) <= 2) and 1 <= X.shape[0] <= 3


@given(strategies.cases(net=strategies.mlps()))
def test_mlp_cases_carry_weights_not_coordinates(case):
    net, params, X, Y = case
    assert isinstance(net, MLP) and params.Z is None and len(params.W) == net.L - 1
    check_inputs(net, params, X, Y)


@given(strategies.nets(loss="bce"))
def test_bce_nets_get_a_sigmoid_output(net):
    assert net.output == "sigmoid"


@given(strategies.mlps(loss="bce"))
def test_bce_mlps_end_in_a_sigmoid(net):
    assert net.activations[-1] == "sigmoid"


@given(strategies.nets(layers=3, width=2, dim=1, kernel="gaussian", hidden="tanh", loss="mse", bias=False))
def test_values_are_accepted_where_strategies_are(net):
    assert (net.widths, net.dim, net.kernel, net.hidden, net.loss, net.bias) == ((2, 2, 2), 1, "gaussian", "tanh", "mse", False)


@given(st.data(), st.sampled_from(["bce", "softmax_ce", "mse"]))
def test_data_targets_suit_the_loss(data, loss):
    net = data.draw(strategies.nets(loss=loss))
    _, Y = data.draw(strategies.data_for(net))
    assert Y.shape[1] == net.widths[-1]
    if loss == "bce":
        assert np.all((Y > 0) & (Y < 1))
    elif loss == "softmax_ce":
        assert np.all(Y > 0) and np.allclose(Y.sum(axis=1), 1.0)


def test_suited_targets_is_the_one_rule_for_every_source():
    rng = np.random.default_rng(0)
    for loss in ("bce", "softmax_ce", "mse"):
        Y = suited_targets(loss, (4, 3), rng.uniform)
        assert Y.shape == (4, 3)
    assert np.all((Y >= -1.5) & (Y <= 1.5))
    Y = random_data(Net((2, 3), dim=1, loss="softmax_ce"), batch=5)[1]  # the tests' seeded data uses it too
    assert np.allclose(Y.sum(axis=1), 1.0) and np.all(Y > 0)


@given(strategies.adversarial_cases(kind="coincident"))
def test_coincident_draws_put_a_node_on_one_below(case):
    kind, net, params, X, Y = case
    assert kind == "coincident" and net.kernel != "exponential"  # g'(0) != 0 there: no derivative at r = 0
    assert any((z[:, None, :] == zp[None, :, :]).all(axis=-1).any() for z, zp in zip(params.Z[1:], params.Z[:-1]))


@given(strategies.adversarial_cases(kind="near"))
def test_near_draws_separate_two_nodes_by_a_tiny_distance(case):
    _, net, params, _, _ = case
    r = np.concatenate(
        [np.linalg.norm(z[:, None, :] - zp[None, :, :], axis=-1).ravel() for z, zp in zip(params.Z[1:], params.Z[:-1])]
    )
    assert np.any((r > 0) & (r <= 1.01e-3))  # separations 1e-3..1e-7 (other pairs may coincide by chance)


@given(strategies.adversarial_cases(kind="relu_kink"))
def test_relu_kink_draws_have_zero_inputs_and_biases(case):
    _, net, params, X, _ = case
    assert net.hidden == "relu" and not X.any()
    assert params.b is None or not any(v.any() for v in params.b)


@given(strategies.adversarial_cases(kind="saturated"))
def test_saturated_draws_drive_sigmoids_far_out(case):
    _, net, _, X, _ = case
    assert net.hidden == "sigmoid" and net.loss != "bce" and np.all(np.abs(X) >= 30)


@given(strategies.adversarial_cases())
def test_adversarial_kinds_are_the_seeded_draws_kinds(case):
    assert ADVERSARIAL_KINDS == ("near", "coincident", "saturated", "relu_kink")  # as README and results.json name them
    assert case[0] in ADVERSARIAL_KINDS


def test_an_unknown_adversarial_kind_is_refused():
    @given(strategies.adversarial_cases(kind="relu_zero"))
    def draw(case):
        pass

    with pytest.raises(ValueError, match="relu_kink"):
        draw()
    with pytest.raises(ValueError, match="relu_kink"):
        make_adversarial(Case(Net((2, 2)), None, np.zeros((1, 2)), np.zeros((1, 2))), "relu_zero", np.random.default_rng(0))


@given(st.data(), st.sampled_from(["near", "coincident"]), st.integers(0, 2**32 - 1))
def test_make_adversarial_places_a_pair_on_a_copy(data, kind, seed):
    """The placing code the strategy and the seeded draws share: node i of Z[l] at z^(l-1)_j + sep e_1,
    on a copy (the drawn case is left as it was)."""
    net = data.draw(strategies.nets(kernel="gaussian"))
    params = data.draw(strategies.params_for(net))
    X, Y = data.draw(strategies.data_for(net))
    before = [z.copy() for z in params.Z]
    c = make_adversarial(Case(net, params, X, Y), kind, np.random.default_rng(seed), sep=1e-5)
    l, i, j = c.pair
    assert c.kind == kind and c.sep == (1e-5 if kind == "near" else 0.0)
    assert np.array_equal(c.params.Z[l][i], params.Z[l - 1][j] + c.sep * np.eye(net.dim)[0])
    assert all(np.array_equal(z, b) for z, b in zip(params.Z, before))
