"""A catalog of hand-written gradient functions for check-grad's tests: one correct NumPy backprop of a
spatially embedded net (gaussian-formula kernel exp(-r^2/s^2), tanh hidden, identity output, mse, biases)
and the same code with one classic mistake each. Each works on any widths (generic), in the dtype of its
inputs.

Interface (derivcheck.userfn): fn(Z, X, Y, b=...) -> dict(loss, dZ, dW, db, dX).
"""

import numpy as np

from derive import Net

S = 0.8
NET = Net((2, 3, 2), dim=2, kernel="exp(-r**2/s**2)", kernel_params={"s": S}, hidden="tanh", output="identity",
          loss="mse", bias=True)
EPS = 1e-8


def make(sign=1.0, factor=1.0, transpose_dW=False, forward_term=True, pre_activation=False, eps_mismatch=False,
         bias_grad=True, loss_sum=False, relu=False, naive_phi=False):
    """A gradient function with the given mistakes (defaults: correct); relu=True: ReLU hidden layers."""

    def fn(Z, X, Y, b=None):
        L = len(Z)
        one = X.dtype.type(1)
        a, h, W, dz, r, rs = [X], [X], [None], [None], [None], [None]
        for l in range(1, L):
            d = Z[l][:, None, :] - Z[l - 1][None, :, :]
            dist = np.sqrt((d**2).sum(-1))
            rl = dist + EPS if eps_mismatch else dist
            W.append(np.exp(-(rl**2) / S**2).astype(X.dtype))
            dz.append(d)
            r.append(rl)
            rs.append(np.sqrt(dist**2 + EPS) if eps_mismatch else None)
            hl = a[-1] @ W[l].T + (b[l - 1] if b is not None else 0)
            h.append(hl)
            a.append((np.maximum(hl, 0) if relu else np.tanh(hl)) if l < L - 1 else hl)
        n = one if loss_sum else X.dtype.type(Y.size)
        loss = ((a[-1] - Y) ** 2).sum() / n
        dA = 2 * (a[-1] - Y) / n
        dZ = [np.zeros_like(z) for z in Z]
        dW, db = [None] * (L - 1), [None] * (L - 1)
        for l in range(L - 1, 0, -1):
            if l == L - 1:
                delta = dA
            elif relu:
                delta = dA * (h[l] > 0)  # relu'(0) = 0, as torch
            else:
                delta = dA / np.cosh(h[l]) ** 2  # tanh' = cosh^-2: no cancellation in saturation
            dW[l - 1] = delta.T @ (h[l - 1] if pre_activation else a[l - 1])
            db[l - 1] = delta.sum(axis=0) if bias_grad else np.zeros(delta.shape[1], X.dtype)
            dA = delta @ W[l]
            with np.errstate(invalid="ignore", divide="ignore"):
                if eps_mismatch:
                    phi = -2 * r[l] / S**2 * W[l] / rs[l]
                elif naive_phi:
                    phi = -2 * r[l] / S**2 * W[l] / r[l]  # g'(r)/r as written: 0/0 at coincident nodes
                else:
                    phi = -2 / S**2 * W[l]  # g'(r)/r for the gaussian: finite at r = 0
            G = (dW[l - 1] * phi)[:, :, None] * dz[l]
            dZ[l] += G.sum(axis=1)
            if forward_term:
                dZ[l - 1] -= G.sum(axis=0)
        out = {"loss": loss, "dZ": dZ, "dW": [w.T for w in dW] if transpose_dW else dW, "db": db, "dX": dA}
        for q in ("dZ", "dW", "db"):
            out[q] = [sign * factor * x for x in out[q]]
        out["dX"] = sign * factor * out["dX"]
        return out

    return fn


correct = make()
correct_relu = make(relu=True)
wrong_sign = make(sign=-1.0)
half = make(factor=0.5)
transposed_dW = make(transpose_dW=True)
no_forward_term = make(forward_term=False)
h_for_a = make(pre_activation=True)
eps_mismatch = make(eps_mismatch=True)
no_bias_grad = make(bias_grad=False)
loss_sum = make(loss_sum=True)
naive_phi = make(naive_phi=True)


def mlp_correct(W, X, Y, b=None):
    """Correct backprop of an ordinary MLP (sigmoid layers, sse_half loss, biases)."""
    a, h = [X], [X]
    for l, w in enumerate(W):
        h.append(a[-1] @ w.T + b[l])
        a.append(1 / (1 + np.exp(-h[-1])))
    dA = a[-1] - Y
    dW, db = [None] * len(W), [None] * len(W)
    for l in range(len(W), 0, -1):
        e = np.exp(-np.abs(h[l]))
        delta = dA * e / (1 + e) ** 2  # sigmoid' without the cancellation of a (1 - a) in saturation
        dW[l - 1], db[l - 1] = delta.T @ a[l - 1], delta.sum(0)
        dA = delta @ W[l - 1]
    return {"loss": 0.5 * ((a[-1] - Y) ** 2).sum(), "dW": dW, "db": db, "dX": dA}
