import numpy as np
import pytest
from helpers import random_data, random_params

from derive import MLP, Net, Params, SpecError
from numeric import manual


def test_distances_match_norm_and_are_exact_near_zero():
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(4, 3)), rng.normal(size=(5, 3))
    ref = np.linalg.norm(A[:, None, :] - B[None, :, :], axis=-1)
    np.testing.assert_allclose(manual.distances(A, B), ref, rtol=1e-15)
    z = np.array([[1.0, 2.0, 3.0]])
    assert manual.distances(z + [1e-9, 0, 0], z)[0, 0] == pytest.approx(1e-9, rel=1e-6)


def test_forward_cache_holds_every_intermediate():
    net = Net((2, 3, 1), bias=True)
    p, (X, Y) = random_params(net), random_data(net)
    c = manual.forward(net, p, X, Y)
    assert [a.shape for a in c.a] == [(3, 2), (3, 3), (3, 1)]
    assert c.W[1].shape == (3, 2) and c.R[2].shape == (1, 3) and c.phiR[1].shape == (3, 2)
    np.testing.assert_allclose(c.W[1], np.exp(-(c.R[1] ** 2)))
    np.testing.assert_allclose(c.phiR[1], -2 * np.exp(-(c.R[1] ** 2)))  # gaussian: phi = g'/r = -2 e^{-r^2}
    np.testing.assert_allclose(c.h[1], X @ c.W[1].T + p.b[0])


def test_dW_uses_activation_not_preactivation():
    """MATH.md: dL/dW_l = delta_l^T a_(l-1); the note's eq. (4) writes h, which is wrong for tanh."""
    net = MLP((2, 2, 1), activations=("tanh", "identity"), loss="sse_half", bias=False)
    p, (X, Y) = random_params(net, seed=3), random_data(net, batch=1)
    c, g = manual.forward(net, p, X, Y), manual.gradients(net, p, X, Y)
    delta3 = c.a[2] - Y
    np.testing.assert_allclose(g.dW[1], delta3.T @ c.a[1])
    assert not np.allclose(g.dW[1], delta3.T @ c.h[1])


def test_coincident_nodes_use_phi_limit_or_refuse():
    Z = [np.zeros((1, 2)), np.zeros((1, 2)), np.ones((1, 2))]
    X, Y = np.ones((1, 1)), np.zeros((1, 1))
    g = manual.gradients(Net((1, 1, 1), dim=2, kernel="inverse_quadratic"), Params(Z=Z), X, Y)
    assert all(np.all(np.isfinite(d)) for d in g.dZ)
    with pytest.raises(SpecError, match="coincide.*g'\\(0\\) = -1"):
        manual.gradients(Net((1, 1, 1), dim=2, kernel="exponential"), Params(Z=Z), X, Y)


def test_float32_on_request():
    net = Net((2, 3, 2), hidden="sigmoid")
    p, (X, Y) = random_params(net), random_data(net)
    g32, g64 = manual.gradients(net, p, X, Y, dtype=np.float32), manual.gradients(net, p, X, Y)
    assert all(d.dtype == np.float32 for d in g32.dZ + g32.dW)
    for a, b in zip(g32.dZ, g64.dZ):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def test_bce_outside_range_is_a_clear_error():
    net = Net((1, 1), loss="bce", output="identity")
    with pytest.raises(SpecError, match="not finite"):
        manual.gradients(net, Params(Z=[np.ones((1, 3)), np.ones((1, 3))]), np.full((1, 1), 5.0), np.ones((1, 1)))


@pytest.mark.parametrize("sep", [1e-3, 1e-5, 1e-7])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nearly_coincident_nodes_keep_their_digits_when_phi_grows_as_1_over_r(sep, dtype):
    # g'(0) != 0: phi = g'(r)/r ~ 1/r, and eq. (8)'s efficient form cancels |G_ij| |z| to |G_ij| r: before
    # near pairs took their own difference, float64 lost 1e-9 relative at r = 1e-7 and float32 everything
    from derive import symbolic
    from numeric.compare import check_gradients

    net = Net(widths=(2, 3, 1), dim=2, kernel="-2*tanh(3*(r-0.4))", hidden="tanh", loss="mse")
    rng = np.random.default_rng(1)
    Z = [rng.uniform(-5, 5, size=(n, 2)) for n in net.widths]  # |z| ~ 5: the cancellation is eps |z| / r
    Z[1][0] = Z[0][1] + np.array([sep, 0.0])
    X, Y = rng.uniform(-1, 1, size=(3, 2)), rng.uniform(-1, 1, size=(3, 1))
    p = Params(Z=[z.astype(dtype).astype(np.float64) for z in Z])  # the truth at the engine's own inputs
    truth = symbolic.gradients(net, p, X.astype(dtype), Y.astype(dtype))
    for g in (manual.gradients(net, p, X, Y, dtype=dtype), manual.reference.gradients(net, p, X, Y, dtype=dtype)):
        bad = [f.describe() for f in check_gradients(g, truth, dtype) if not f.ok]
        assert not bad, bad
