"""numeric.spectrum: eigenvalues, near-zero modes, rigid motions, power iteration."""

import numpy as np
from hypothesis import given, note
from hypothesis import strategies as st

from derive import Net, Params
from numeric import manual, strategies
from numeric.spectrum import lambda_max, rigid_motions, spectrum


def test_known_matrix():
    Q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((5, 5)))
    w = np.array([-2.0, 0.0, 0.0, 1.0, 3.0])
    s = spectrum(Q @ np.diag(w) @ Q.T)
    np.testing.assert_allclose(s.eigenvalues, w, atol=1e-13)
    assert (s.n_negative, s.n_zero, s.n_positive) == (1, 2, 2)
    assert s.rigid_in_null is None
    assert spectrum(np.diag([1.0, 1e-9]), tol=1e-8).n_zero == 1


def test_rigid_motions_shapes_and_degenerate_coordinates():
    Z = [np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]]), np.array([[2.0, 0.0, 1.0]])]
    T, R = rigid_motions(Z, n=11)
    assert T.shape == (11, 3) and R.shape == (11, 3)
    assert np.all(T[9:] == 0) and np.all(R[9:] == 0)
    np.testing.assert_array_equal(T[:9, 0], [1, 0, 0] * 3)
    # Rotation generators are tangent: <z_i, A z_i> = 0 node by node.
    zc = np.concatenate(Z).reshape(-1)
    assert np.allclose((zc.reshape(-1, 3) * R[:9, 0].reshape(-1, 3)).sum(1), 0)
    # Every node at the origin: rotations vanish, only the D translations remain.
    s = spectrum(np.zeros((6, 6)), Z=[np.zeros((2, 3))])
    assert (s.n_translations, s.n_rotations) == (3, 0)


@given(strategies.cases(width=st.integers(2, 3), layers=st.integers(2, 3)))
def test_translations_are_null_modes_of_the_coordinate_hessian(case):
    net, params, X, Y = case
    H = manual.hessian(net, params, X, Y)  # coordinates, then biases if any
    s = spectrum(H, Z=params.Z)
    note(s.summary())
    assert s.asymmetry <= 1e-12
    assert s.n_translations == net.dim
    assert s.translation_residual <= 1e-12
    if np.max(np.abs(H)) > 0:
        assert s.n_zero >= net.dim
        assert s.rigid_in_null >= net.dim - 1e-6


def test_at_an_exact_fit_every_rigid_motion_is_a_null_mode():
    """Y = the net's own output: zero residual, so dL/dZ = 0 and rotations join the null space."""
    net = Net((3, 4, 2), dim=3, hidden="tanh", loss="sse_half")
    rng = np.random.default_rng(7)
    params = Params(Z=[rng.uniform(-1.5, 1.5, (n, 3)) for n in net.widths])
    X = rng.uniform(-1, 1, (3, 3))
    Y = manual.forward(net, params, X, np.zeros((3, 2))).a[-1]
    s = spectrum(manual.hessian(net, params, X, Y), Z=params.Z)
    assert (s.n_translations, s.n_rotations) == (3, 3)
    assert s.rotation_residual <= 1e-12
    assert abs(s.rigid_in_null - 6) <= 1e-6
    # Away from the fit the rotations carry curvature (H (A Z) = A dL/dZ != 0).
    s2 = spectrum(manual.hessian(net, params, X, Y + 0.5), Z=params.Z)
    assert s2.rotation_residual > 1e-6


def test_lambda_max_power_iteration():
    w = np.array([0.5, -1.0, 4.0, 2.0])
    r = lambda_max(lambda v: w * v, 4, iters=500, seed=3)
    assert r.converged and abs(float(r) - 4.0) <= 1e-8
    assert abs(abs(r.vector[2]) - 1) <= 1e-6
    net = Net((2, 3, 2), dim=2)
    rng = np.random.default_rng(1)
    params = Params(Z=[rng.uniform(-1, 1, (n, 2)) for n in net.widths])
    X, Y = rng.uniform(-1, 1, (4, 2)), rng.uniform(-1, 1, (4, 2))
    ev = np.linalg.eigvalsh(manual.hessian(net, params, X, Y))
    top = ev[np.argmax(np.abs(ev))]
    r = lambda_max(lambda v: manual.hvp(net, params, X, Y, v), ev.size, iters=2000, seed=0)
    assert abs(r.value - top) <= 1e-6 * abs(top)
