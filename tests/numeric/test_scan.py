"""numeric.scan: grids, evaluation and suprema of kernel functions over distances."""

from __future__ import annotations

import numpy as np
import pytest

from derive import audit_math as am
from derive import kernel
from numeric import scan


def test_grid_covers_zero_scale_and_breakpoints():
    r = scan.grid([2.0], [3.0])
    assert r[0] == 0 and np.all(np.diff(r) > 0)
    assert r.max() == pytest.approx(1e4 * 3.0) and 3.0 in r
    assert np.any((r < 3.0) & (r > 3.0 - 1e-8)) and np.any((r > 3.0) & (r < 3.0 + 1e-8))


def test_evaluate_gives_nan_where_undefined_or_complex():
    r = np.array([0.0, 0.25, 4.0])
    out = scan.evaluate(lambda x: np.sqrt((1 - x).astype(complex)), r)
    assert out[0] == 1 and out[1] == pytest.approx(np.sqrt(0.75)) and np.isnan(out[2])
    assert scan.evaluate(lambda x: 3.0, r).shape == r.shape  # a constant is broadcast


def test_sup_abs_uses_exact_limits():
    r = np.linspace(0, 10, 101)
    fn = lambda x: np.exp(-x)  # noqa: E731
    s = scan.sup_abs(fn, r, [("0+", 0.0, 1.0, "1"), ("infinity", float("inf"), 0.0, "0")])
    assert s.value == 1 and s.at == 0
    s = scan.sup_abs(fn, r, [("0+", 0.0, float("-inf"), "-oo")])
    assert s.value == float("inf") and "-oo" in s.how
    s = scan.sup_abs(fn, r, [("0+", 0.0, float("nan"), "None")])  # undecided: the grid decides
    assert s.value == pytest.approx(np.exp(-0.1))


def test_gaussian_sup_of_g_prime_from_the_derive_forms():
    k = kernel("gaussian")
    dg = am.derivative(k, 1)
    s = scan.sup_abs(am.numeric_form(dg), scan.grid([1.0]), am.point_limits(dg, [], k.dg0))
    assert s.value == pytest.approx(2**0.5 * np.exp(-0.5), rel=1e-6)


def test_value_range_and_dead_fraction():
    r = np.linspace(0, 5, 501)
    assert scan.value_range(lambda x: np.cos(x), r, 1.0, float("nan")) == pytest.approx((-1.0, 1.0), abs=1e-4)
    dead = scan.dead_fraction(lambda x: np.where(x < 1, 1.0, 0.0), np.random.default_rng(0), dims=(1,), n=2000)
    assert set(dead) == {"D=1"} and 0 < dead["D=1"]["zero"] == dead["D=1"]["negligible"] < 1
