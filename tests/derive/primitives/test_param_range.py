"""derive.parse.param_range and the kernels' and penalties' check_range (issue 22): a parameter far from 1
is either evaluated or refused in one line that states the accepted range, the range float64 (or, for an
engine in float32, float32) can hold for every constant the formula, its first and its second derivatives
make of it. Before: kernels were refused outside 1e-8..1e8 whatever their formula (the int64 overflow of
the torch printer, fixed there), penalties not at all (s = 1e300 in (s (r - q0))**2 overflowed: verify
failed a valid net)."""

import pytest
import sympy as sp

from derive import SpecError
from derive.parse import param_range, parse_expr, symbol
from derive.primitives.kernels import kernel
from derive.primitives.penalty import penalty

R = symbol("r")


@pytest.mark.parametrize(
    ("formula", "degree", "high"),
    [
        ("exp(-r**2/s**2)", 4, 1e70),  # g'' carries 4 r**2 / s**4
        ("exp(-r/s)", 2, 1e140),
        ("where(r < s, (1 - r/s)**4*(4*r/s + 1), 0)", 5, 1e56),
        ("sqrt(s)*exp(-r)", 0.5, 1e280),
        ("exp(-r)", 0, 1e280),
    ],
)
def test_the_range_follows_the_highest_power_of_the_parameter(formula, degree, high):
    e = parse_expr(formula, variables=("r",), params=("s",))
    got = param_range([e, e.diff(R), e.diff(R, 2)], symbol("s"))
    assert got == (degree, float(f"{1 / high:.0e}"), high)


@pytest.mark.parametrize("s", [1e-8, 1e8, 1e-70, 1e70, -1e-70])
def test_a_kernel_parameter_within_its_range_is_taken(s):
    k = kernel("exp(-r**2/m**2)", (("m", s),))  # m: no sign assumption (c and s are declared positive)
    assert dict(k.params)["m"] == s


@pytest.mark.parametrize("s", [1e-71, 1e71, 1e-300, 1e308, 5e-324])
def test_a_kernel_parameter_beyond_its_range_is_one_line_with_the_range(s):
    with pytest.raises(SpecError) as info:
        kernel("exp(-r**2/c**2)", (("c", s),))
    text = str(info.value)
    assert "\n" not in text and f"c = {s!r}" in text and "[1e-70, 1e+70]" in text and "power 4" in text


@pytest.mark.parametrize(("s", "ok"), [(1e-140, True), (1e140, True), (1e-141, False), (1e141, False), (1e300, False)])
def test_a_penalty_parameter_has_its_range_too(s, ok):
    spec = {"rho": "(s*(r-q0))**2", "params": {"s": s, "q0": 0.4}}
    if ok:
        assert dict(penalty(spec).pairs)["s"] == s
    else:
        with pytest.raises(SpecError, match=r"parameter s = .* \[1e-140, 1e\+140\]"):
            penalty(spec)


def test_float32_has_its_own_narrower_range():
    k = kernel("exp(-r**2/s**2)", (("s", 1e-20),))  # fine in float64: 1/s**4 = 1e80
    with pytest.raises(SpecError, match=r"float32 can evaluate.*\[1e-08, 1e\+08\]"):
        k.check_range(32, "float32")


@pytest.mark.parametrize(
    ("formula", "params", "scale"),
    [
        ("exp(-r**2/s**2)", (("s", 1e-8),), 1e-8 / 2**0.5),
        ("exp(-r/s)", (("s", 1e-3),), 1e-3),
        ("tanh(r)", (), None),  # g(0) = 0: no scale where nodes meet
        ("1", (), None),
    ],
)
def test_the_length_scale_of_a_kernel_where_nodes_meet(formula, params, scale):
    got = kernel(formula, params).length_scale
    assert got == (None if scale is None else pytest.approx(scale, rel=1e-12))


def test_the_degree_counts_a_function_argument_on_its_own():
    s = symbol("s")
    e = sp.exp(-(R**2) / s**2) * (4 * R**2 / s**4 - 2 / s**2)
    assert param_range([e], s)[0] == 4  # not 2 + 4: the argument's 1/s**2 is its own constant


@pytest.mark.parametrize("s", [2.0, 1e-8, 1e-20, 1e-56])
def test_the_weight_of_coincident_nodes_is_read_right_of_0_whatever_the_support(s):
    """g(0+) took the piece that holds at r = 1e-9: wendland_c2 with s = 1e-20 got the piece beyond its
    support, g(0+) = 0 instead of 1 (the manual engine then disagreed with the truth at coincident nodes)."""
    k = kernel("wendland_c2", (("s", s),))
    assert k.g0 == 1 and k.dg0 == 0
