"""derive.primitives.penalty_code: a penalty's numexpr source (the manual engine's fused pass) and its
lambdified callables give the same numbers, each made once per penalty."""

import numexpr
import numpy as np

from derive.primitives.penalty import Penalty
from derive.primitives.penalty_code import callables, fused_source


def test_fused_source_agrees_with_the_callables():
    p = Penalty("(s*(r-q0))**2 + w**2*r**2", params={"s": 6.1, "q0": 0.3})
    src = fused_source(p)
    assert src is not None and src["rho_w"] and fused_source(p) is src  # cached per penalty
    f = callables(p, "numpy")
    r, w = np.array([0.2, 0.7, 1.9]), np.array([-1.5, 0.25, 2.0])
    for key in ("rho", "rho_w", "phi"):
        fused = numexpr.evaluate(src[key], local_dict={"dd": r**2, "W": w})
        np.testing.assert_allclose(fused, f[key](r, w), rtol=1e-13)


def test_a_penalty_numexpr_cannot_express_has_no_fused_source():
    p = Penalty("abs(w)*r")  # abs prints as a function numexpr lacks here
    assert fused_source(p) is None
    assert callables(p, "numpy")["rho"](np.array([2.0]), np.array([-3.0]))[0] == 6.0
