"""Shared test helpers."""

import numpy as np

from derive import Params


def random_params(net, seed=0, scale=1.5):
    rng = np.random.default_rng(seed)
    if net.spatial:
        Z = [rng.uniform(-scale, scale, size=(n, net.dim)) for n in net.widths]
        W = None
    else:
        Z, W = None, [rng.uniform(-scale, scale, size=(net.widths[l + 1], net.widths[l])) for l in range(net.L - 1)]
    b = [rng.uniform(-1, 1, size=n) for n in net.widths[1:]] if net.bias else None
    return Params(Z=Z, W=W, b=b)


def random_data(net, batch=3, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(batch, net.widths[0]))
    K = net.widths[-1]
    if net.loss == "bce":
        Y = rng.uniform(0.05, 0.95, size=(batch, K))
    elif net.loss == "softmax_ce":
        Y = rng.dirichlet(np.ones(K), size=batch)
    else:
        Y = rng.uniform(-1.5, 1.5, size=(batch, K))
    return X, Y


def all_grads(g):
    """Concatenate every present quantity of a Gradients into one flat vector."""
    parts = [np.atleast_1d(g.loss)]
    for q in (g.dW, g.dZ, g.db, [g.dX]):
        if q is not None:
            parts += [np.asarray(a, dtype=np.float64).reshape(-1) for a in q]
    return np.concatenate(parts)
