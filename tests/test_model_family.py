"""The wider model family (MATH.md "The wider model family", issue 16): mse_half, free amplitudes,
penalties on distances; every engine against the symbolic truth."""

import numpy as np
import pytest

from derive import Net, Params, symbolic
from numeric.engines import ENGINES

from tests.helpers import random_data, random_params


def _engines():
    return [e for e in ENGINES.values() if e.name != "symbolic" and e.available()[0] and e.dtype == np.float64]


def test_mse_half_is_half_mse_in_every_engine():
    base = Net((2, 3, 2), dim=2, kernel="gaussian", loss="mse")
    half = Net((2, 3, 2), dim=2, kernel="gaussian", loss="mse_half")
    P, (X, Y) = random_params(base), random_data(base)
    t_full, t_half = symbolic.gradients(base, P, X, Y), symbolic.gradients(half, P, X, Y)
    assert t_half.loss == pytest.approx(t_full.loss / 2, rel=1e-15)
    for a, b in zip(t_half.dZ, t_full.dZ, strict=True):
        np.testing.assert_allclose(a, b / 2, rtol=1e-14, atol=1e-300)
    for e in _engines():
        g = e.gradients(half, P, X, Y)
        assert g.loss == pytest.approx(t_half.loss, rel=1e-13), e.name
        np.testing.assert_allclose(g.flat(), t_half.flat(), rtol=1e-9, atol=1e-12)
