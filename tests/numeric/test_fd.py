"""numeric/fd.py: central finite differences and the Taylor-remainder slope, the engine-free opinions
(MATH.md "First order": a correct gradient leaves a remainder O(e^2))."""

import numpy as np
from helpers import random_data, random_params
from hypothesis import given, settings
from hypothesis import strategies as st

from derive import MLP, Net
from numeric import manual, strategies
from numeric.compare import tolerance
from numeric.fd import TaylorResult, fd_gradient, fd_step, loss_value, taylor_slope
from numeric.flat import flatten

SMOOTH = dict(
    kernel=st.sampled_from(["gaussian", "inverse_quadratic", "inverse_multiquadric"]),
    hidden=st.sampled_from(["tanh", "sigmoid", "softplus", "gelu"]),
    loss=st.sampled_from(["mse", "sse_half", "softmax_ce", "bce"]),
)


@settings(max_examples=10)
@given(strategies.cases(width=st.integers(1, 3), **SMOOTH))
def test_finite_differences_agree(case):
    net, params, X, Y = case
    g = manual.gradients(net, params, X, Y)
    flat = g.flat()
    fd = fd_gradient(net, params, X, Y)
    assert np.max(np.abs(fd - flat)) <= 1e-6 * max(1.0, np.max(np.abs(flat)))


@given(strategies.cases(**SMOOTH), st.integers(0, 2**31 - 1))
def test_taylor_remainder_shrinks_as_e_squared(case, seed):
    net, params, X, Y = case
    g = manual.gradients(net, params, X, Y)
    flat = g.flat()
    v = np.random.default_rng(seed).normal(size=flatten(net, params).size)
    res = taylor_slope(net, params, X, Y, flat, v)
    assert res.ok, f"slope {res.slope} (expected 2), remainders {res.remainders}"


def test_taylor_test_catches_a_wrong_gradient():
    net = Net((2, 3, 1), hidden="tanh")
    p, (X, Y) = random_params(net), random_data(net)
    g = manual.gradients(net, p, X, Y)
    flat = g.flat()
    v = np.random.default_rng(0).normal(size=flat.size)
    assert taylor_slope(net, p, X, Y, flat, v).ok
    assert not taylor_slope(net, p, X, Y, flat * 1.01, v).ok


def test_taylor_slope_is_a_finding_with_the_table_minimum():
    eps = np.geomspace(1e-2, 1e-5, 10)
    low, fine, flat = (TaylorResult(s, eps, eps, 2) for s in (1.5, 2.01, None))
    assert low.minimum == tolerance(np.float64, "taylor_grad") == 1.9
    assert TaylorResult(2.95, eps, eps, 3).minimum == tolerance(np.float64, "taylor_hvp") == 2.9
    assert (low.ok, fine.ok, flat.ok) == (False, True, True)
    assert [r.finding().ok for r in (low, fine, flat)] == [False, True, True]
    msg = low.finding().describe()
    assert msg.startswith("grad (taylor vs Taylor remainder of order 2): 1.5 vs 2, fitted slope 1.500 not above")
    assert "the minimum 1.9" in msg


def test_fd_step_is_the_cube_root_of_epsilon():
    # eps = 2^-52 (float64), 2^-23 (float32): the step balances truncation O(h^2) and rounding O(eps/h)
    assert np.isclose(fd_step(np.float64), 2.0 ** (-52 / 3), rtol=1e-6)
    assert np.isclose(fd_step(np.float32), 2.0 ** (-23 / 3), rtol=1e-6)


def test_loss_value_is_the_engines_loss():
    for net in (Net((2, 3, 1), hidden="tanh", bias=True), MLP((2, 2, 2), activations="sigmoid", loss="bce")):
        p, (X, Y) = random_params(net), random_data(net)
        assert loss_value(net, p, X, Y) == manual.gradients(net, p, X, Y).loss


def test_fd_gradient_of_a_linear_net_is_exact_to_rounding():
    """An identity net with mse is a quadratic in W: central differences are exact up to rounding."""
    net = MLP((2, 2), activations="identity", loss="mse")
    p, (X, Y) = random_params(net), random_data(net)
    fd = fd_gradient(net, p, X, Y, step=1e-3)
    assert fd.shape == flatten(net, p).shape
    assert np.max(np.abs(fd - manual.gradients(net, p, X, Y).flat())) < 1e-10


def test_weights_keep_sign_sees_a_step_across_w_0():
    """The segment test behind fd and Taylor on |w| penalties: a step that flips a weight's sign (or a
    weight at 0) is seen; small steps are not."""
    from derive import Net, Params
    from numeric.fd import fd_steps, weights_keep_sign
    from numeric.flat import flatten

    net = Net((2, 2, 1), dim=2, kernel="1", amplitudes="free", penalties=("abs(w)*r",))
    rng = np.random.default_rng(0)
    Z = [rng.normal(size=(n, 2)) for n in net.widths]
    theta = [np.array([[0.5, -0.7], [0.9, 1e-3]]), np.array([[0.4, -0.6]])]
    p = Params(Z=Z, theta=theta)
    x = flatten(net, p)
    assert weights_keep_sign(net, p, fd_steps(x))
    k = x.size - 3  # theta_2[1, 1] = 1e-3 in the flat layout (Z blocks, then theta_2, then theta_3)
    assert flatten(net, p)[k] == 1e-3
    e = np.zeros_like(x)
    e[k] = -2e-3
    assert not weights_keep_sign(net, p, [e])
    theta[0][1, 1] = 0.0
    assert not weights_keep_sign(net, Params(Z=Z, theta=theta), [])


@settings(max_examples=10)
@given(strategies.cases(width=st.integers(1, 3), **SMOOTH))
def test_fd_error_bound_holds_and_resolves_normal_gradients(case):
    """fd_estimate's bound (rounding FD_ROUNDING eps |J| / h plus truncation |D(h) - D(2h)| / 3) is
    never below fd's actual error against the manual engine (itself within 1e-12 of the truth)."""
    from numeric.fd import fd_estimate

    net, params, X, Y = case
    flat = manual.gradients(net, params, X, Y).flat()
    est = fd_estimate(net, params, X, Y)
    assert np.array_equal(est.grad, fd_gradient(net, params, X, Y))
    err = np.abs(est.grad - flat)
    assert np.all(err <= est.noise + est.truncation + 1e-12 * max(1.0, np.max(np.abs(flat)))), (err, est.noise, est.truncation)


def test_fd_estimate_refuses_a_gradient_below_its_noise():
    """A 1e-99 gradient (a 40-layer width-1 net) under a rounding noise of ~1e-11: unresolved, with the
    numbers; a normal net's gradient is resolved with room to spare."""
    from numeric.fd import fd_estimate

    net = Net((2, 3, 1), hidden="tanh")
    p, (X, Y) = random_params(net), random_data(net)
    est = fd_estimate(net, p, X, Y)
    value = float(np.max(np.abs(manual.gradients(net, p, X, Y).flat())))
    assert est.unresolved(1e-5, value) is None and est.bound < 1e-3 * 1e-5 * value
    why = est.unresolved(1e-5, 3.1e-99)
    assert why is not None and why.startswith("cannot resolve dJ/dx here: error bound") and "x gradient 3.1e-99" in why
