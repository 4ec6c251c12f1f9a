"""Penalties on an ordinary MLP's weights (issue 23, item 3: weight decay w**2 and L1 |w| over W directly):
J = L + sum_t scale_t reduce_t rho_t(W), dJ/dW = dL/dW + c_t rho_t'(W). The exact program (the ground
truth), the flat SymPy route, the manual engines (fast and reference, first and second order) and torch
autograd agree; |w| takes the subgradient 0 at w = 0 in every engine; rho naming r is refused."""

import numpy as np
import pytest

from derive import MLP, SpecError, symbolic
from numeric import autograd, manual
from numeric.compare import check_gradients
from numeric.engines import ENGINES
from numeric.manual import reference
from tests.helpers import random_data, random_params

PLAIN = dict(widths=(3, 4, 2), activations=("tanh", "sigmoid"), loss="sse_half", bias=True)
NETS = {
    "decay_sum": MLP(**PLAIN, penalties=({"rho": "w**2", "scale": 0.3},)),
    "l1_mean": MLP(**PLAIN, penalties=({"rho": "abs(w)", "scale": 0.7, "reduce": "mean"},)),
    "decay_layer3_l1_layer2": MLP(
        **PLAIN,
        penalties=({"rho": "w**2", "scale": 0.05, "layers": [3]}, {"rho": "abs(w)", "scale": 2.5, "reduce": "mean", "layers": [2]}),
    ),
    "elastic_net_deep": MLP(
        (2, 3, 3, 1), activations="tanh", loss="mse", bias=False, penalties=("w**2 + 0.5*abs(w)", {"rho": "w**4", "scale": 0.1})
    ),
}


def case(net, zero=True):
    """Drawn weights with one weight exactly 0 in every layer (|w|'s kink) when `zero`."""
    P, (X, Y) = random_params(net), random_data(net)
    if zero:
        for w in P.W:
            w[0, -1] = 0.0
    return P, X, Y


def expected_penalty(net, W):
    """sum_t c_t sum rho_t(W) over the covered layers, and the c_t rho_t'(W) it adds to dW, by hand."""
    rho = {"w**2": (lambda w: w**2, lambda w: 2 * w), "abs(w)": (np.abs, np.sign), "w**4": (lambda w: w**4, lambda w: 4 * w**3)}
    rho["w**2 + 0.5*abs(w)"] = (lambda w: w**2 + 0.5 * np.abs(w), lambda w: 2 * w + 0.5 * np.sign(w))
    value, dW = 0.0, [np.zeros_like(w) for w in W]
    for p in net.penalties:
        layers = p.covers(net.L)
        edges = sum(W[l - 2].size for l in layers)
        c = p.scale / (edges if p.reduce == "mean" else 1)
        f, df = rho[p.rho]
        for l in layers:
            value += c * f(W[l - 2]).sum()
            dW[l - 2] += c * df(W[l - 2])
    return value, dW


@pytest.mark.parametrize("name", sorted(NETS))
def test_the_truth_adds_the_penalty_and_its_derivative_to_the_plain_mlp(name):
    """J - L and dJ/dW - dL/dW of the exact program equal the penalty and c rho'(W) computed by hand (sign(0) = 0)."""
    from dataclasses import replace

    net = NETS[name]
    P, X, Y = case(net)
    with_pen, plain = symbolic.gradients(net, P, X, Y), symbolic.gradients(replace(net, penalties=()), P, X, Y)
    value, dW = expected_penalty(net, P.W)
    assert with_pen.loss - plain.loss == pytest.approx(value, rel=1e-13)
    for a, b, d in zip(with_pen.dW, plain.dW, dW, strict=True):
        np.testing.assert_allclose(a - b, d, rtol=1e-12, atol=1e-15)
    # the penalty does not touch b or the data path
    for a, b in zip([*(with_pen.db or []), with_pen.dX], [*(plain.db or []), plain.dX], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=0)


@pytest.mark.parametrize("name", sorted(NETS))
def test_every_engine_matches_the_truth_with_a_weight_at_the_kink(name):
    net = NETS[name]
    P, X, Y = case(net)
    truth = symbolic.gradients(net, P, X, Y)
    engines = [e for e in ENGINES.values() if e.name != "symbolic" and e.available()[0]]
    assert {"manual", "manual-f32", "torch-cpu"} <= {e.name for e in engines}
    for e in engines:
        g = e.gradients(net, P, X, Y)
        findings = check_gradients(g, truth, dtype=e.dtype, engine=e.name)
        assert {f.quantity for f in findings} >= {"loss", "dW", "dX"}
        assert all(f.ok for f in findings), [f.describe() for f in findings if not f.ok]
    ref = reference.gradients(net, P, X, Y)
    assert all(f.ok for f in check_gradients(ref, truth, engine="reference"))


def test_l1_subgradient_at_zero_is_zero_in_every_engine():
    """d|w|/dw at w = 0 is 0 (torch's sign(0)) in the exact program, the flat route, manual and torch:
    with a large L1 scale the kinked entry of dJ/dW equals dL/dW there, bit for bit in the exact engine."""
    from dataclasses import replace

    net = MLP(**PLAIN, penalties=({"rho": "abs(w)", "scale": 100.0},))
    P, X, Y = case(net)
    plain = symbolic.gradients(replace(net, penalties=()), P, X, Y)
    for g in (symbolic.gradients(net, P, X, Y), manual.gradients(net, P, X, Y), autograd.gradients(net, P, X, Y)):
        for l in range(2):
            assert abs(g.dW[l][0, -1] - plain.dW[l][0, -1]) < 1e-12, g.engine  # not +-100 (a one-sided slope)
            assert abs(g.dW[l][0, 0] - plain.dW[l][0, 0]) == pytest.approx(100.0, rel=1e-12)
    fl, grads = symbolic.flat_gradient(net, 1)
    W0 = next(s for s in fl.leaves if s.name == "w2_0_0")
    assert "100*sign(w2_0_0)" in str(grads[fl.leaves.index(W0)])  # the flat route's d|w|/dw: sign(w), 0 at 0


@pytest.mark.parametrize("name", ["decay_sum", "decay_layer3_l1_layer2", "elastic_net_deep"])
def test_hvp_matches_the_exact_hessian(name):
    """H includes c rho''(W) on the diagonal of the weights (2 c for w**2, 0 for |w| away from 0)."""
    from dataclasses import replace

    net = NETS[name]
    P, X, Y = case(net, zero=False)
    H = symbolic.hessian(net, P, X, Y)
    H0 = symbolic.hessian(replace(net, penalties=()), P, X, Y)
    # the penalty's Hessian: diagonal, c rho''(w) on each covered weight (2 c for w**2, 0 for |w| off 0,
    # 12 c w^2 for w**4), nothing on the biases
    second = {
        "w**2": lambda w: 2 + 0 * w,
        "abs(w)": lambda w: 0 * w,
        "w**4": lambda w: 12 * w**2,
        "w**2 + 0.5*abs(w)": lambda w: 2 + 0 * w,
    }
    diag = [np.zeros_like(w) for w in P.W]
    for p in net.penalties:
        layers = p.covers(net.L)
        c = p.scale / (sum(P.W[l - 2].size for l in layers) if p.reduce == "mean" else 1)
        for l in layers:
            diag[l - 2] += c * second[p.rho](P.W[l - 2])
    want = np.concatenate([d.ravel() for d in diag] + [np.zeros(b.size) for b in P.b or []])
    assert np.abs(want).max() > 0.01
    np.testing.assert_allclose(H - H0, np.diag(want), rtol=0, atol=1e-13 * np.abs(H).max())
    v = np.random.default_rng(3).normal(size=H.shape[0])
    exact = H @ v
    for hv in (manual.hvp(net, P, X, Y, v), autograd.hvp(net, P, X, Y, v), symbolic.hvp(net, P, X, Y, v)):
        np.testing.assert_allclose(hv, exact, rtol=0, atol=1e-12 * np.abs(exact).max())


def test_flat_route_agrees_with_the_program():
    net = NETS["decay_layer3_l1_layer2"]
    fl, grads = symbolic.flat_gradient(net, 2)
    P, X, Y = case(net)
    X, Y = X[:2], Y[:2]
    values = dict(zip(fl.leaves, [v for w in P.W for v in w.ravel()] + [v for b in P.b for v in b]))
    values |= {s: v for s, v in zip(fl.x, X.ravel())} | {s: v for s, v in zip(fl.y, Y.ravel())}
    truth = symbolic.gradients(net, P, X, Y)
    assert float(fl.expr.xreplace(values)) == pytest.approx(truth.loss, rel=1e-13)
    flat_dW = np.array([float(g.xreplace(values)) for g in grads[: sum(w.size for w in P.W)]])
    np.testing.assert_allclose(flat_dW, np.concatenate([w.ravel() for w in truth.dW]), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("rho", ["abs(w)*r", "r**2", "(s*(r-q0))**2"])
def test_a_penalty_in_r_on_an_mlp_is_a_one_line_spec_error(rho):
    with pytest.raises(SpecError) as info:
        MLP(**PLAIN, penalties=({"rho": rho, "params": {"s": 6.1, "q0": 0.4} if "s" in rho else {}},))
    msg = str(info.value)
    assert "\n" not in msg and f"penalty {rho!r} uses the distance r" in msg and 'kind = "mlp"' in msg
    assert 'write rho in w alone (weight decay "w**2", L1 "abs(w)")' in msg


def test_mlp_penalty_layers_beyond_L_and_describe():
    with pytest.raises(SpecError, match="names layer 4, the net has L = 3"):
        MLP(**PLAIN, penalties=({"rho": "w**2", "layers": [4]},))
    net = NETS["decay_layer3_l1_layer2"]
    assert "penalty=0.05*sum(w**2) layers [3], penalty=2.5*mean(abs(w)) layers [2]" in net.describe()
    assert [len(net.layer_penalties(l)) for l in (2, 3)] == [1, 1]


@pytest.mark.parametrize("rho, at, slope", [("max(w, 0)", 0.0, 0.5), ("min(w, 0)", 0.0, 0.5), ("max(abs(w) - 0.5, 0)", 0.5, 0.5)])
def test_a_hinge_penalty_splits_its_tie_evenly_in_every_engine(rho, at, slope):
    """max/min in rho: d max(a, b)/da = 1/2 at a tie (SymPy's Heaviside(0)) in the exact program, the manual
    engines and torch (whose printer wrote Python's max and raised a TypeError on tensors)."""
    from dataclasses import replace

    net = MLP(**PLAIN, penalties=({"rho": rho, "scale": 10.0},))
    P, X, Y = case(net, zero=False)
    P.W[0][0, 0], P.W[1][1, 2] = at, -at
    plain = symbolic.gradients(replace(net, penalties=()), P, X, Y)
    for g in (symbolic.gradients(net, P, X, Y), manual.gradients(net, P, X, Y), autograd.gradients(net, P, X, Y)):
        assert g.dW[0][0, 0] - plain.dW[0][0, 0] == pytest.approx(10.0 * slope, rel=1e-12), g.engine
        if at:  # |w| - 0.5 at w = -0.5: the tie again, with sign(w) = -1
            assert g.dW[1][1, 2] - plain.dW[1][1, 2] == pytest.approx(-10.0 * slope, rel=1e-12), g.engine


def test_a_hinge_wiring_cost_on_a_spatial_net_agrees_at_its_tie():
    """The same rule on a spatial net with free amplitudes: max(w, 0) r with a weight exactly 0."""
    from derive import Net
    from tests.derive.symbolic.test_model_family import family_params

    net = Net((2, 3, 1), dim=2, kernel="gaussian", amplitudes="free", penalties=({"rho": "max(w, 0)*r", "scale": 3.0},))
    P, (X, Y) = family_params(net), random_data(net)
    P.theta[0][1, 0] = 0.0
    truth = symbolic.gradients(net, P, X, Y)
    for g in (manual.gradients(net, P, X, Y), autograd.gradients(net, P, X, Y)):
        findings = check_gradients(g, truth, engine=g.engine)
        assert {"dZ", "dtheta"} <= {f.quantity for f in findings}
        assert all(f.ok for f in findings), [f.describe() for f in findings if not f.ok]
