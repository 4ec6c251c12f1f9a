"""numeric.compare.hvp_scale: the rounding-noise floor of H v. Found by hypothesis: on a net at
all-coincident nodes with a saturated tanh output, torch's H v is 4.9e-16 off the exact one (Arb balls)
against an H v of 4.5e-8 (1.1e-8 relative, over the 1e-8 tolerance): float64 evaluation of torch's own
1 - tanh^2, not a wrong engine. Judged with the floor it passes; an H v 0.1 % off still fails."""

from __future__ import annotations

import numpy as np

from derive import Net, Params
from derive import symbolic as sym
from numeric import autograd, manual
from numeric.compare import check_close, hvp_scale, problem_scale, quantities

NET = Net((1, 4, 4, 1), dim=1, kernel="gaussian", hidden="softplus", output="tanh", loss="mse")
P = Params(Z=[np.zeros((1, 1)), np.zeros((4, 1)), np.zeros((4, 1)), np.zeros((1, 1))])
X = Y = np.zeros((1, 1))


def _V():
    rng = np.random.default_rng(0)
    return [rng.normal(size=z.shape) for z in P.Z]  # type: ignore[union-attr]


def test_torch_h_v_in_saturation_is_rounding_noise_at_the_problems_scale():
    V = _V()
    exact = np.concatenate([a.reshape(-1) for a in sym.hvp(NET, P, X, Y, V, backend="arb")])
    torch_hv = np.concatenate([a.reshape(-1) for a in autograd.hvp(NET, P, X, Y, V)])
    S = hvp_scale(problem_scale(quantities(sym.gradients(NET, P, X, Y, backend="arb"))), V)
    assert not check_close("hvp", "torch-cpu", torch_hv, exact).ok  # relative alone: 1.1e-8 > 1e-8
    assert check_close("hvp", "torch-cpu", torch_hv, exact, scale=S).ok
    assert not check_close("hvp", "wrong", 1.001 * exact, exact, scale=S).ok  # the floor hides no real error
    manual_hv = np.concatenate([a.reshape(-1) for a in manual.hvp(NET, P, X, Y, V)])
    assert check_close("hvp", "manual", manual_hv, exact).ok  # the R-operator is right even without it


def test_the_scale_is_linear_in_the_direction():
    V = _V()
    assert hvp_scale(2.0, V) == 2.0 * max(float(np.abs(v).max()) for v in V)
    assert hvp_scale(2.0, [3 * v for v in V]) == 3 * hvp_scale(2.0, V)
    assert hvp_scale(1.0, [np.zeros(3)]) == 0.0
