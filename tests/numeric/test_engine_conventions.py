"""Stated conventions (issue 23.3) reach every engine through the one Net description: under each
loss_reduction and relu_grad_at_zero every engine in numeric.engines.ENGINES agrees with the symbolic
ground truth, on a case whose pre-activations are exactly 0 in places."""

import numpy as np
import pytest

from derive import MLP, Net, Params, symbolic
from numeric.compare import rel_error, tolerance
from numeric.engines import ENGINES

NAMES = [n for n in ENGINES if n != "symbolic"]
# X and W dyadic, so h = X W^T + b is exactly 0 at (row 1, node 1) and (row 2, node 2) of layer 2
X = np.array([[1.0, 1.0], [0.5, -0.25], [-1.0, 0.75]])
Y = np.array([[0.5, -0.5], [0.25, 1.0], [-0.75, 0.0]])
W2 = np.array([[1.0, -1.0], [0.5, 1.0], [-0.5, 0.25]])
W3 = np.array([[0.75, -1.0, 0.5], [1.0, 0.25, -0.5]])
B2, B3 = np.array([0.0, 0.0, 0.125]), np.array([0.25, -0.125])


def _mlp(**kw):
    return MLP((2, 3, 2), activations=("relu", "identity"), loss="mse", bias=True, **kw), Params(W=[W2, W3], b=[B2, B3])


def _spatial(**kw):
    # kernel "1" with free amplitudes: W = theta exactly, so the zero pre-activations survive
    net = Net((2, 3, 2), dim=2, kernel="1", amplitudes="free", hidden="leaky_relu(alpha=0.25)", loss="sse_half", bias=True, **kw)
    Z = [np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([[0.0, 1.0], [1.0, 1.0], [0.5, 2.0]]), np.array([[0.0, 3.0], [1.0, 3.0]])]
    return net, Params(Z=Z, theta=[W2, W3], b=[B2, B3])


CONVENTIONS = [
    dict(loss_reduction="mean"),
    dict(loss_reduction="batch"),
    dict(loss_reduction="sum"),
    dict(relu_grad_at_zero=0.5),
    dict(relu_grad_at_zero=1),
    dict(loss_reduction="batch", relu_grad_at_zero=1),
]


def test_the_case_has_exact_zero_pre_activations():
    h = X @ W2.T + B2
    assert h[0, 0] == 0 and (h == 0).sum() >= 2


@pytest.mark.parametrize("kw", CONVENTIONS, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
@pytest.mark.parametrize("make", [_mlp, _spatial], ids=["mlp", "spatial"])
@pytest.mark.parametrize("name", NAMES)
def test_every_engine_agrees_with_the_truth_under_each_convention(name, make, kw):
    engine = ENGINES[name]
    ok, why = engine.available()
    if not ok:
        pytest.skip(f"{name}: {why}")
    net, p = make(**kw)
    truth = symbolic.gradients(net, p, X, Y)
    g = engine.gradients(net, p, X, Y)
    for q in ("loss", "dW", "dZ", "db", "dX"):
        if getattr(truth, q) is not None:
            assert rel_error(getattr(g, q), getattr(truth, q)) <= tolerance(engine.dtype, q), q


@pytest.mark.parametrize("make", [_mlp, _spatial], ids=["mlp", "spatial"])
def test_the_truth_follows_the_stated_conventions(make):
    net, p = make()
    base = symbolic.gradients(net, p, X, Y)
    B, K = Y.shape
    # the loss's own reduction: mse divides by B K, sse_half by 1; "batch" divides by B
    own = B * K if net.loss == "mse" else 1
    for reduction, div in (("mean", B * K), ("batch", B), ("sum", 1)):
        g = symbolic.gradients(make(loss_reduction=reduction)[0], p, X, Y)
        assert np.isclose(g.loss, base.loss * own / div, rtol=1e-14, atol=0)
        assert np.allclose(g.db[0], base.db[0] * own / div, rtol=1e-13, atol=0)
    # at h = 0 the stated subgradient s moves f'(0) from f'(0-) to f'(0+): db of node 1 changes with s
    d = [symbolic.gradients(make(relu_grad_at_zero=s)[0], p, X, Y).db[0][0] for s in (0, 0.5, 1)]
    assert d[0] == base.db[0][0] and d[0] != d[2] and np.isclose(d[1], (d[0] + d[2]) / 2, rtol=1e-14)
