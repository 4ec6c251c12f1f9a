"""check-grad names a wrong kernel derivative by the g'(r) the user's code implies (derivcheck.checkgrad.kernel:
read from dZ on one-edge nets over r = 0.25..4, named against the true g'), and a penalty's d rho/dr the
same way (issue 23.2a). The code is written as it is in the wild (tests/wild_grads.py)."""

import functools

import numpy as np
import pytest
import wild_grads as W  # tests/ is on sys.path

import derivcheck
from derivcheck.checkgrad.kernel import describe_power
from derivcheck.checkgrad.shrink import Judge

ONE_EDGE = "(read from dZ on one-edge nets, r = 0.25..4)"
TRUE_GAUSS = "the true g'(r) = -25*r*exp(-25*r^2/16)/8"


def test_positioned_neurons_with_d_inv_r_sign_and_power_wrong_are_named_as_a_kernel_derivative():
    """Weights theta/r, d(1/r)/dz_i coded as +(z_i - z_j) r^3 where it is -(z_i - z_j)/r^3 (before: 'error grows
    as nodes approach' or 'none of the known mistakes fits'): exit 1 and the power named."""
    result = derivcheck.check_grad(W.positioned_kernel, W.POS_NET, cases=3, seed=0)
    assert not result and result.failed == result.checked
    assert result.diagnoses[0] == (
        "dZ: kernel derivative: the sign and a power of r off: your code's g'(r) behaves like +r^4 "
        "(its d g/dz_i = +(z_i - z_j) r^3; the true one is -(z_i - z_j)/r^3); the true g'(r) is -1/r^2 " + ONE_EDGE
    ), result.report()
    assert "error grows as nodes approach" not in result.report()
    assert derivcheck.check_grad(W.positioned_correct, W.POS_NET, cases=3, seed=0)


@pytest.mark.parametrize(
    "dg,text",
    [
        ("sign", f"g'(r) with its sign flipped: your code's g'(r) is -1 x {TRUE_GAUSS}"),
        ("half", f"g'(r) off by a constant factor 0.5: your code's g'(r) is 0.5 x {TRUE_GAUSS}"),
        ("g", "g(r) used in place of g'(r): your code's g'(r) equals g(r); the true g'(r) is -25*r*exp(-25*r^2/16)/8"),
        (
            "phi",
            "phi(r) = g'(r)/r used in place of g'(r): your code's g'(r) equals phi(r) = g'(r)/r; "
            "the true g'(r) is -25*r*exp(-25*r^2/16)/8",
        ),
    ],
)
def test_gaussian_kernel_derivative_mistakes_are_named(dg, text):
    result = derivcheck.check_grad(functools.partial(W.gaussian, dg=dg), W.GAUSS_NET, cases=3, seed=0)
    assert not result and result.failed == result.checked
    assert f"dZ: kernel derivative: {text} {ONE_EDGE}" in result.diagnoses, result.report()
    assert "dW" not in {f.quantity for f in result.findings}  # dW right: what the reading needs


def test_gaussian_right_passes():
    assert derivcheck.check_grad(functools.partial(W.gaussian, dg="right"), W.GAUSS_NET, cases=3, seed=0)


def test_penalty_d_rho_dr_with_a_power_of_r_off_is_named():
    """d/dr (k (r - q0))^2 coded as 2 k^2 (r - q0) r: before, 'none of the known mistakes fits'."""
    net = W.GAUSS_PEN_NET
    assert derivcheck.check_grad(functools.partial(W.gaussian, penalty="right"), net, cases=3, seed=0)
    result = derivcheck.check_grad(functools.partial(W.gaussian, penalty="power"), net, cases=3, seed=0)
    assert not result
    assert result.diagnoses == [
        "dZ: penalty derivative: a power of r off: your code's d rho/dr of '(k*(r-q0))**2' is r x the true d rho/dr "
        f"of '(k*(r-q0))**2' = 8*r - 4 {ONE_EDGE}"
    ], result.report()


def test_kernel_reading_needs_a_generic_fn_and_stays_quiet_when_the_terms_disagree():
    from derivcheck.checkgrad.kernel import kernel_reading
    from numeric.draws import draw_case

    case = draw_case(W.POS_NET, np.random.default_rng(0))

    def fixed(Z, X, Y, b=None, theta=None):
        if len(Z[0]) != 3:
            raise ValueError("only the 3-4-2 net")
        return W.positioned_kernel(Z, X, Y, b=b, theta=theta)

    assert kernel_reading(Judge(fixed, False, np.float64), case) is None
    # a sign flipped on the source's term only: both terms must imply the same g' to blame the kernel
    assert kernel_reading(Judge(W.positioned_source_sign, False, np.float64), case) is None


@pytest.mark.parametrize(
    "C,p,text",
    [(1.0, 4, "+r^4"), (-1.0, -2, "-1/r^2"), (2.5, 1, "+2.5 r"), (-3.0, 0, "-3"), (1.0, -1, "+1/r"), (0.5, 0.5, "+0.5 r^0.5")],
)
def test_describe_power(C, p, text):
    assert describe_power(C, p) == text
