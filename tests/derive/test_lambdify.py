"""derive/lambdify.py, the one door from SymPy to floats: every backend of the table evaluates an
expression to mpmath's numbers; numexpr forms of kernels and activations agree with the NumPy forms,
and the manual engine's fused route agrees with its careful route, including where it must fall back."""

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

import numeric.manual as manual
from derive import Net, Params, SpecError, compile_net
from derive.lambdify import (
    BACKENDS,
    FUSED_MIN_SIZE,
    PROGRAM_BACKENDS,
    fused_elementwise,
    fused_kernel,
    lambdify,
    number_source,
    number_value,
)
from derive.primitives import ACTIVATIONS, KERNELS, R, X, activation, kernel
from numeric import strategies
from numeric.manual import fast
from numeric.manual.common import Singular

_r, _s = sp.Symbol("r", nonnegative=True), sp.Symbol("s", positive=True)
_POINTS = [(0.0, 1.2), (0.3, 1.2), (1.1, 0.7), (2.5, 1.2), (0.05, 3.0)]


def test_the_backends_table_has_its_five_rows():
    assert list(BACKENDS) == ["numpy", "numexpr", "torch", "mpmath", "arb"]
    assert PROGRAM_BACKENDS == ("numpy", "mpmath", "arb")  # the targets of derive.symbolic programs


_ARB_EXPRS = [
    sp.Piecewise((X, X > 0), (0, True)),
    sp.Piecewise((X, X > 0), (X / 10, True)),
    X / 2 * (1 + sp.erf(X / sp.sqrt(2))),
    sp.tanh(X) ** 2 + sp.cosh(X) ** -2,
    sp.log(1 + sp.exp(X)),
    sp.Abs(X - sp.Rational(1, 3)) * sp.sign(X) + sp.Max(X, 0) - sp.Min(X, sp.Float(0.25)),
    sp.pi * (1 + X**2) ** sp.Rational(-3, 2) + sp.atan(X) * sp.sin(X) * sp.cos(X),
    sp.Piecewise(((X - 1) ** 2 / 2, sp.Abs(X - 1) <= sp.Rational(1, 2)), (sp.Abs(X - 1) / 2 - sp.Rational(1, 8), True)),
]


@pytest.mark.parametrize("k", range(len(_ARB_EXPRS)))
def test_arb_balls_enclose_the_60_digit_value(k):
    """The arb row at 50 digits: each ball holds mpmath's 60-digit value of the same expression, with a
    radius below 1e-45 of it (exact inputs, away from kinks)."""
    from flint import arb, ctx

    e = _ARB_EXPRS[k]
    fa, fm = lambdify([X], e, "arb"), lambdify([X], e, "mpmath")
    old = ctx.prec
    try:
        ctx.dps = 50
        for x in (-1.75, -0.3, 0.2, 0.9, 1.25, 2.0):
            ball = arb(fa(arb(x)))
            with mpmath.workdps(60):
                v = fm(mpmath.mpf(x))
                m = mpmath.mpf(ball.mid().str(60, radius=False))
            assert abs(m - v) <= float(ball.rad()) + mpmath.mpf("1e-55"), (e, x, ball, v)
            assert float(ball.rad()) <= 1e-45 * max(abs(float(v)), 1.0), (e, x, ball)
    finally:
        ctx.prec = old


def test_arb_conditions_on_a_ball_across_the_boundary_are_undecided():
    """ReLU' on the point 0 is the stated 0; on a ball around 0 the branches are united (radius 1/2), as
    is sign; Eq decides only on points."""
    from flint import arb

    relu_d = lambdify([X], sp.Piecewise((0, sp.Eq(X, 0)), (1, X > 0), (0, True)), "arb")
    sign = lambdify([X], sp.sign(X), "arb")
    assert relu_d(arb(0)) == 0 and relu_d(arb(1e-300)) == 1
    assert not arb(relu_d(arb(0, 1e-30))).is_exact() and float(arb(relu_d(arb(0, 1e-30))).rad()) >= 0.5
    assert sign(arb(0)) == 0 and float(sign(arb(0, 1e-30)).rad()) >= 1


def test_arb_refuses_what_it_cannot_print():
    from derive.lambdify import ArbUnsupported

    with pytest.raises(ArbUnsupported, match="besselj"):
        lambdify([X], sp.besselj(0, X), "arb")


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_every_backend_evaluates_like_mpmath(backend):
    """exp(-r^2/s^2) (and a list with sqrt(2) r, a closed-form constant) at a few points: each backend's
    float64 value is mpmath's 50-digit value (from the same float inputs) within 1e-14 relative."""
    g = sp.exp(-(_r**2) / _s**2)
    exprs = [g, sp.sqrt(2) * _r + g]
    truth_fn = lambdify([_r, _s], exprs, "mpmath")
    fn = lambdify([_r, _s], exprs, backend)
    for r, s in _POINTS:
        with mpmath.workdps(50):
            truth = [mpmath.mpf(v) for v in truth_fn(mpmath.mpf(r), mpmath.mpf(s))]
        if backend == "torch":
            torch = pytest.importorskip("torch")
            args = [torch.tensor([r], dtype=torch.float64), torch.tensor([s], dtype=torch.float64)]
            got = [float(v[0]) for v in fn(*args)]
        elif backend == "numexpr":
            got = [float(v[0]) for v in fn(np.array([r]), np.array([s]))]
        else:
            got = [float(v) for v in fn(r, s)]
        for a, t in zip(got, truth):
            assert abs(a - float(t)) <= 1e-14 * abs(float(t)), (backend, r, s, a, t)


def test_numexpr_backend_refuses_what_numexpr_lacks():
    with pytest.raises(SpecError, match="numexpr cannot express"):
        lambdify([_r], sp.besselj(0, _r), "numexpr")
    with pytest.raises(SpecError, match="unknown backend"):
        lambdify([_r], _r, "fortran")


def test_exact_coefficients_in_generated_programs():
    from fractions import Fraction

    assert number_source(Fraction(1, 3), "numpy") == repr(1 / 3)
    assert number_source(Fraction(1, 3), "mpmath") == "(mpf(1)/3)" and number_source(7, "mpmath") == "7"
    with mpmath.workdps(40):  # valued at call time: the caller's precision
        third = number_value("mpmath")(Fraction(1, 3))
        assert abs(third - mpmath.mpf(1) / 3) < mpmath.mpf(10) ** -39
    assert number_value("numpy")(None) == 0.0 and number_value("numpy")(Fraction(1, 4)) == 0.25


@pytest.mark.parametrize("name", sorted(KERNELS))
@pytest.mark.parametrize("dim", [1, 3])
def test_fused_kernel_matches_numpy_forms(name, dim):
    k = kernel(name, ())
    fk = fused_kernel(k.bound, k.phi, R)
    assert fk is not None, f"{name} should be expressible in numexpr"
    rng = np.random.default_rng(dim)
    Zl, Zp = rng.uniform(-1.5, 1.5, (37, dim)), rng.uniform(-1.5, 1.5, (29, dim))
    Rm = np.sqrt(((Zl[:, None, :] - Zp[None, :, :]) ** 2).sum(-1))
    c = compile_net(Net((29, 37), dim=dim, kernel=name), "numpy")
    W = fk.weights(Zl, Zp, np.empty(Rm.shape))
    P = fk.phi_of(Zl, Zp, np.empty(Rm.shape))
    np.testing.assert_allclose(W, c.g(Rm), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(P, c.phi(Rm), rtol=1e-12, atol=1e-14)


def test_even_kernel_loses_the_square_root():
    k = kernel("gaussian", ())
    fk = fused_kernel(k.bound, k.phi, R)
    assert fk.g == "exp(-dd)" and fk.phi == "-2*exp(-dd)"  # exp(-r^2) needs only r^2
    k = kernel("exponential", ())
    assert fused_kernel(k.bound, k.phi, R).g == "exp(-dd**0.5)"  # exp(-r) needs r itself


def test_a_function_numexpr_lacks_keeps_the_numpy_route():
    g = sp.besselj(0, R)  # numexpr has no Bessel functions
    assert fused_kernel(g, sp.diff(g, R) / R, R) is None
    assert fused_elementwise(sp.erf(X), X) is None


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_fused_activations_match_numpy(name):
    a = activation(name)
    x = np.random.default_rng(1).uniform(-30, 30, FUSED_MIN_SIZE + 3)
    for expr in (a.expr, a.deriv):
        fast = fused_elementwise(expr, X)
        if fast is None:
            continue
        slow = sp.lambdify([X], expr, "numpy")(x)
        np.testing.assert_allclose(fast(x), slow, rtol=1e-13, atol=1e-300)
        assert fast(x).dtype == np.float64


def _careful(net, params, X, Y):
    """The careful route by hand: full forward cache (R and phi(R) kept), same backward pass."""
    return fast.backward(net, manual.forward(net, params, X, Y))


@given(strategies.cases())
def test_fused_route_equals_careful_route(case):
    net, params, X, Y = case
    fast = manual.gradients(net, params, X, Y)
    slow = _careful(net, params, X, Y)
    assert fast.loss == pytest.approx(slow.loss, rel=1e-13, abs=1e-300)
    for a, b in zip(fast.dW, slow.dW):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14 * max(1.0, np.max(np.abs(b))))
    if net.spatial:
        for a, b in zip(fast.dZ, slow.dZ):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13 * max(1.0, np.max(np.abs(b))))


def _coincident(kernel_spec):
    net = Net((2, 3, 1), dim=2, kernel=kernel_spec)
    Z = [np.array([[0.0, 0.0], [1.0, 0.5]]), np.array([[0.0, 0.0], [0.3, -0.2], [-1.0, 1.0]]), np.array([[0.2, 0.1]])]
    X = np.array([[0.5, -0.4], [1.0, 0.2]])
    Y = np.array([[0.1], [0.3]])
    return net, Params(Z=Z), X, Y


def test_coincident_nodes_with_a_0_over_0_kernel_fall_back_to_the_limit():
    net, p, X, Y = _coincident("sin(r)/r")
    with pytest.raises(Singular):  # the fused pass sees 0/0 ...
        manual.forward(net, p, X, Y, lean=True)
    g = manual.gradients(net, p, X, Y)  # ... and gradients answers by the careful route
    slow = _careful(net, p, X, Y)
    assert g.loss == slow.loss and np.isfinite(g.loss)
    for a, b in zip(g.dZ, slow.dZ):
        np.testing.assert_array_equal(a, b)


def test_coincident_nodes_with_g_prime_nonzero_still_give_the_one_line_error():
    net, p, X, Y = _coincident("exponential")
    with pytest.raises(SpecError, match="coincide"):
        manual.gradients(net, p, X, Y)


def test_coincident_nodes_with_a_smooth_kernel_stay_on_the_fused_route():
    net, p, X, Y = _coincident("gaussian")
    cache = manual.forward(net, p, X, Y, lean=True)
    assert cache.lean and cache.W[1][0, 0] == 1.0  # g(0) = 1 exactly
    fast, slow = manual.gradients(net, p, X, Y), _careful(net, p, X, Y)
    for a, b in zip(fast.dZ, slow.dZ):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


@given(st.sampled_from([np.float32]), strategies.cases())
def test_float32_keeps_the_numpy_route(dtype, case):
    net, params, X, Y = case
    cache = manual.forward(net, params, X, Y, dtype=dtype, lean=True)
    assert not cache.lean and cache.a[-1].dtype == np.float32


@given(strategies.adversarial_cases())
def test_fused_route_on_adversarial_cases(case):
    """Coincident and nearly coincident nodes, ReLU at 0, saturation: the fused route either agrees
    with the careful route or both refuse with the same one-line error."""
    kind, net, params, X, Y = case
    try:
        slow = _careful(net, params, X, Y)
    except SpecError as exc:
        with pytest.raises(SpecError, match=str(exc)[:20]):
            manual.gradients(net, params, X, Y)
        return
    fast = manual.gradients(net, params, X, Y)
    assert fast.loss == pytest.approx(slow.loss, rel=1e-12, abs=1e-300)
    if net.spatial:
        for a, b in zip(fast.dZ, slow.dZ):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12 * max(1.0, np.max(np.abs(b))))


def test_reused_buffers_never_alias_returned_arrays():
    """dW_l may be written into layer l+1's dead G buffer: every returned array is still its own."""
    net = Net((6, 6, 6, 6), dim=2)
    rng = np.random.default_rng(5)
    p = Params(Z=[rng.uniform(-1, 1, (6, 2)) for _ in range(4)])
    X, Y = rng.standard_normal((3, 6)), rng.standard_normal((3, 6))
    g = manual.gradients(net, p, X, Y)
    arrays = [*g.dW, *g.dZ, *g.delta[1:], *g.dA]  # dA[0] is dX itself
    assert g.dA[0] is g.dX
    for i, a in enumerate(arrays):
        for b in arrays[i + 1 :]:
            assert not np.shares_memory(a, b)
    slow = _careful(net, p, X, Y)
    for a, b in zip(g.dW, slow.dW):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("s", ["1e-10", "1e-40", "1e40"])
def test_the_torch_row_prints_big_rationals_as_floats(s):
    """exp(-r**2/s**2) with s = 1e-10 is exp(-10**20 r**2) exactly; printed as a Python int, 10**20 * tensor
    overflowed int64 (OverflowError in the torch engine, hence a parameter range of 1e-8..1e8). The torch
    row writes such rationals as floats: its values are numpy's."""
    import numpy as np
    import sympy as sp
    import torch

    r = sp.Symbol("r", positive=True)
    e = sp.exp(-(r**2) / sp.Rational(s) ** 2) * (1 + r / sp.Rational(s))
    at = np.array([0.0, 0.5, 2.0]) * float(s)
    want = lambdify([r], e, "numpy")(at)
    got = lambdify([r], e, "torch")(torch.tensor(at, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-15)
