"""numeric.optim on problems whose answers are known exactly (quadratics), plus budget accounting."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numeric import optim


def quadratic(H, b):
    """L(x) = 1/2 x^T H x - b^T x, gradient H x - b, Hessian H (constant)."""
    H = np.asarray(H, dtype=float)
    return optim.Problem(lambda x: (0.5 * x @ H @ x - b @ x, H @ x - b), lambda x, v: H @ v, H.shape[0])


def spd(rng, n, cond=50.0):
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return Q @ np.diag(np.geomspace(1, cond, n)) @ Q.T


def test_steihaug_interior_solves_newton_system():
    rng = np.random.default_rng(0)
    H, g = spd(rng, 8), rng.standard_normal(8)
    cg = optim.steihaug_cg(lambda v: H @ v, g, radius=1e6, rtol=1e-12, maxiter=50)
    assert cg.reason == "converged"
    np.testing.assert_allclose(cg.p, np.linalg.solve(H, -g), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(cg.Hp, H @ cg.p, rtol=1e-8, atol=1e-10)


def test_steihaug_stops_on_the_boundary():
    rng = np.random.default_rng(1)
    H, g = spd(rng, 6), rng.standard_normal(6)
    cg = optim.steihaug_cg(lambda v: H @ v, g, radius=1e-3, maxiter=50)
    assert cg.reason == "boundary"
    assert np.linalg.norm(cg.p) == pytest.approx(1e-3, rel=1e-12)
    assert g @ cg.p + 0.5 * cg.p @ H @ cg.p < 0  # the model decreases


def test_steihaug_negative_curvature_goes_to_boundary_and_decreases_model():
    H = np.diag([-1.0, 2.0, 3.0])
    g = np.array([1.0, 0.1, 0.1])  # -g itself has curvature -1 + 0.05 < 0
    cg = optim.steihaug_cg(lambda v: H @ v, g, radius=2.0, maxiter=10)
    assert cg.reason == "negative curvature" and cg.iterations == 1
    assert np.linalg.norm(cg.p) == pytest.approx(2.0, rel=1e-12)
    assert g @ cg.p + 0.5 * cg.p @ H @ cg.p < 0


def test_damping_shifts_the_newton_system():
    rng = np.random.default_rng(2)
    H, g = spd(rng, 5), rng.standard_normal(5)
    cg = optim.steihaug_cg(lambda v: H @ v, g, radius=1e6, rtol=1e-12, damping=0.5)
    np.testing.assert_allclose(cg.p, np.linalg.solve(H + 0.5 * np.eye(5), -g), rtol=1e-8)


def test_newton_cg_solves_a_quadratic():
    rng = np.random.default_rng(3)
    H, b = spd(rng, 10, cond=1e3), rng.standard_normal(10)
    prob = quadratic(H, b)
    res = optim.newton_cg(prob, np.zeros(10), iters=20, radius=100.0, cg_rtol=1e-12, gtol=1e-10)
    np.testing.assert_allclose(res.x, np.linalg.solve(H, b), rtol=1e-7)
    assert res.history[-1].n_hvp == prob.n_hvp and res.history[-1].cost == prob.n_grad + prob.n_hvp


def rosenbrock():
    def vg(x):
        a, b = x
        return (1 - a) ** 2 + 100 * (b - a * a) ** 2, np.array([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)])

    def hv(x, v):
        a, b = x
        H = np.array([[2 - 400 * (b - a * a) + 800 * a * a, -400 * a], [-400 * a, 200.0]])
        return H @ v

    return optim.Problem(vg, hv, 2)


def test_newton_cg_is_monotone_on_a_nonconvex_function():
    res = optim.newton_cg(rosenbrock(), np.array([-1.2, 1.0]), iters=200, radius=0.5, gtol=1e-10)
    losses = [h.loss for h in res.history]
    assert all(b <= a for a, b in zip(losses, losses[1:], strict=False))
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-6)


@given(st.integers(0, 10**6), st.integers(2, 7))
def test_top_eigenvalue_matches_eigh(seed, n):
    """Including matrices whose eigenvalue of largest magnitude is negative (the shifted branch)."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    w = rng.uniform(-3, 1, n)
    w[0], w[1] = -4.0, 1.0  # dominant negative, a gap at the top
    H = Q @ np.diag(w) @ Q.T
    lam = optim.top_eigenvalue(lambda v: H @ v, n, iters=2000, rtol=1e-13, seed=seed)
    assert lam == pytest.approx(np.linalg.eigvalsh(H)[-1], rel=1e-6, abs=1e-8)


def test_gd_descent_lemma_and_its_failure_beyond_two_over_lambda():
    rng = np.random.default_rng(4)
    H, b = spd(rng, 6, cond=20), rng.standard_normal(6)
    lam = np.linalg.eigvalsh(H)[-1]
    x0 = rng.standard_normal(6) * 5
    ok = optim.gd(quadratic(H, b), x0, 1.9 / lam, iters=60)
    losses = [h.loss for h in ok.history]
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False))
    bad = optim.gd(quadratic(H, b), x0, 2.2 / lam, iters=60)
    assert bad.history[-1].loss > bad.history[0].loss  # the bound is sharp: beyond it GD diverges


def test_adam_converges_on_a_quadratic():
    rng = np.random.default_rng(5)
    H, b = spd(rng, 4, cond=5), rng.standard_normal(4)
    res = optim.adam(quadratic(H, b), np.zeros(4), lr=0.05, iters=3000)
    np.testing.assert_allclose(res.x, np.linalg.solve(H, b), atol=1e-3)


@pytest.mark.parametrize("method", ["gd", "adam", "newton-cg"])
def test_budget_is_respected(method):
    prob, x0 = rosenbrock(), np.array([-1.2, 1.0])
    if method == "gd":
        res = optim.gd(prob, x0, 1e-4, iters=10**6, max_cost=37)
    elif method == "adam":
        res = optim.adam(prob, x0, 0.01, iters=10**6, max_cost=37)
    else:
        res = optim.newton_cg(prob, x0, iters=10**6, radius=0.1, cg_rtol=1e-14, max_cost=37)
    assert res.stop == "budget"
    assert prob.cost <= 37 and res.history[-1].cost == prob.cost
    assert prob.cost >= 37 - (1 if method != "newton-cg" else 2)


def test_bad_learning_rate_is_refused():
    with pytest.raises(ValueError, match="learning rate"):
        optim.gd(quadratic(np.eye(2), np.ones(2)), np.zeros(2), -1.0)
