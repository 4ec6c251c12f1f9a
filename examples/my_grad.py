"""Hand-written NumPy backprop for examples/my_net.toml: weights w_ij = exp(-r_ij^2 / s^2), tanh hidden
layers, identity output, mse loss; node coordinates Z are the trained parameters.

    derivcheck check-grad examples/my_grad.py:grad --net examples/my_net.toml         # exit 0
    derivcheck check-grad examples/my_grad.py:grad_buggy --net examples/my_net.toml   # exit 1

`grad_buggy` has a real bug seen in the wild: its forward pass uses r = ||dz|| + eps, its backward pass
differentiates sqrt(||dz||^2 + eps). Harmless-looking (1e-8) when nodes are far apart, a 29% error in the
gradient when two nodes are 1e-4 apart.
"""

import numpy as np

S = 0.7  # the kernel width s of my_net.toml
EPS = 1e-8


def _backprop(Z, X, Y, buggy):
    L = len(Z)
    a, h, W, dz, r, rs = [X], [X], [None], [None], [None], [None]
    for l in range(1, L):  # forward: W_l = g(R_l), h_l = a_(l-1) W_l^T, a_l = f(h_l)
        d = Z[l][:, None, :] - Z[l - 1][None, :, :]  # N_l x N_(l-1) x D
        dist = np.sqrt((d**2).sum(-1))
        rl = dist + EPS if buggy else dist
        W.append(np.exp(-(rl**2) / S**2))
        dz.append(d)
        r.append(rl)
        rs.append(np.sqrt(dist**2 + EPS) if buggy else None)
        h.append(a[-1] @ W[l].T)
        a.append(np.tanh(h[l]) if l < L - 1 else h[l])
    loss = np.mean((a[-1] - Y) ** 2)
    dA = 2 * (a[-1] - Y) / Y.size
    dZ = [np.zeros_like(z) for z in Z]
    for l in range(L - 1, 0, -1):  # backward: delta, dW_l = delta^T a_(l-1), then eq. (8)
        delta = dA / np.cosh(h[l]) ** 2 if l < L - 1 else dA  # tanh' = 1/cosh^2 (1 - a^2 cancels in saturation)
        dW = delta.T @ a[l - 1]
        dA = delta @ W[l]
        dg = -2 * r[l] / S**2 * W[l]  # g'(r)
        # dr/dz_i = dz / r; the buggy version differentiates sqrt(||dz||^2 + eps) instead of ||dz|| + eps
        with np.errstate(invalid="ignore", divide="ignore"):
            phi = dg / rs[l] if buggy else np.where(r[l] > 0, -2 / S**2 * W[l], -2 / S**2)  # g'(r)/r, finite at r = 0
        G = (dW * phi)[:, :, None] * dz[l]
        dZ[l] += G.sum(axis=1)  # backward term: the edges to layer l-1
        dZ[l - 1] -= G.sum(axis=0)  # forward term: the edges to layer l+1, seen from layer l-1
    return {"loss": loss, "dZ": dZ}


def grad(Z, X, Y):
    """Loss and dL/dZ (one N_l x D array per layer) of my_net.toml's network."""
    return _backprop(Z, X, Y, buggy=False)


def grad_buggy(Z, X, Y):
    """The same with the eps mismatch between forward and backward."""
    return _backprop(Z, X, Y, buggy=True)
