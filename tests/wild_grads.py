"""Gradient code written the way it is written in the wild (hand-written NumPy backprop, not written for
derivcheck), for check-grad's verdict and diagnosis tests (issue 23): positioned neurons with weights
theta / r, a Gaussian-kernel net whose g'(r) is coded wrong in the usual ways.

Interface (derivcheck.checkgrad.userfn): fn(Z, X, Y, b=..., theta=...) -> dict(loss, dZ, dW, dtheta, db, dX).
"""

import functools

import numpy as np

from derive import Net

# positioned neurons: W_ij = theta_ij / r_ij, tanh hidden, identity output, mse, biases
POS_NET = Net((3, 4, 2), dim=2, kernel="1/r", amplitudes="free", hidden="tanh", loss="mse", bias=True)


def positioned(Z, X, Y, b=None, theta=None, bug=None):
    """Backprop of a net of positioned neurons. bug: "kernel" (d(1/r)/dz_i coded as +(z_i - z_j) r^3, where
    it is -(z_i - z_j)/r^3), "source_sign" (the source node's share of an edge added with the wrong sign;
    "source_sign_input": for the input layer's nodes only),
    "per_k" (del_loss = 2 (a - y) / B: not divided by the number of outputs K), "per_example_dX" (dX kept
    per example, as for a saliency map: row b = d(loss of example b)/dx_b)."""
    L = len(Z)
    acts, diffs, dists, Ws = [X], [None], [None], [None]
    for l in range(1, L):
        diff = Z[l][:, None, :] - Z[l - 1][None, :, :]  # z_i - z_j
        r = np.sqrt((diff**2).sum(-1))
        W = theta[l - 1] / r
        h = acts[-1] @ W.T + b[l - 1]
        acts.append(np.tanh(h) if l < L - 1 else h)
        diffs.append(diff), dists.append(r), Ws.append(W)
    out = acts[-1]
    B, K = Y.shape
    loss = np.mean((out - Y) ** 2)
    delta = 2 * (out - Y) / (B if bug == "per_k" else B * K)
    dZ = [np.zeros_like(z) for z in Z]
    dW, dtheta, db = [None] * (L - 1), [None] * (L - 1), [None] * (L - 1)
    for l in range(L - 1, 0, -1):
        if l < L - 1:
            delta = delta * (1 - acts[l] ** 2)
        dW[l - 1] = delta.T @ acts[l - 1]
        db[l - 1] = delta.sum(axis=0)
        dtheta[l - 1] = dW[l - 1] / dists[l]
        r = dists[l][:, :, None]
        if bug == "kernel":
            dinv = diffs[l] * r**3  # d(1/r)/dz_i
        else:
            dinv = -diffs[l] / r**3  # d(1/r)/dz_i
        contrib = (dW[l - 1] * theta[l - 1])[:, :, None] * dinv
        dZ[l] += contrib.sum(axis=1)
        if bug == "source_sign" or (bug == "source_sign_input" and l == 1):
            dZ[l - 1] += contrib.sum(axis=0)
        else:
            dZ[l - 1] -= contrib.sum(axis=0)
        delta = delta @ Ws[l]
    dX = delta * B if bug == "per_example_dX" else delta
    return {"loss": loss, "dZ": dZ, "dW": dW, "dtheta": dtheta, "db": db, "dX": dX}


positioned_correct = functools.partial(positioned, bug=None)
positioned_kernel = functools.partial(positioned, bug="kernel")
positioned_source_sign = functools.partial(positioned, bug="source_sign")
positioned_source_sign_input = functools.partial(positioned, bug="source_sign_input")
positioned_per_k = functools.partial(positioned, bug="per_k")
positioned_per_example_dX = functools.partial(positioned, bug="per_example_dX")

# a Gaussian kernel g(r) = exp(-r^2/s^2): g'(r) = -2 r/s^2 g(r)
S = 0.8
GAUSS_NET = Net((2, 3, 2), dim=2, kernel="exp(-r**2/s**2)", kernel_params={"s": S}, hidden="tanh", loss="mse", bias=True)


# the same net with a distance penalty (k (r - q0))^2 summed over every edge
PK, PQ0 = 2.0, 0.5
GAUSS_PEN_NET = Net(
    (2, 3, 2),
    dim=2,
    kernel="exp(-r**2/s**2)",
    kernel_params={"s": S},
    hidden="tanh",
    loss="mse",
    bias=True,
    penalties=({"rho": "(k*(r-q0))**2", "params": {"k": PK, "q0": PQ0}},),
)


def gaussian(Z, X, Y, b=None, dg="right", penalty=None):
    """Backprop with the kernel derivative g'(r) coded as: "right", "sign" (+2 r/s^2 g), "half" (-r/s^2 g),
    "g" (g itself), "phi" (g'(r)/r = -2/s^2 g, the efficient form's factor, where g' belongs). penalty:
    None (GAUSS_NET), "right" (GAUSS_PEN_NET: d rho/dr = 2 k^2 (r - q0)) or "power" (coded 2 k^2 (r - q0) r)."""
    L = len(Z)
    acts, diffs, dists, Ws = [X], [None], [None], [None]
    for l in range(1, L):
        diff = Z[l][:, None, :] - Z[l - 1][None, :, :]
        r = np.sqrt((diff**2).sum(-1))
        W = np.exp(-(r**2) / S**2)
        h = acts[-1] @ W.T + b[l - 1]
        acts.append(np.tanh(h) if l < L - 1 else h)
        diffs.append(diff), dists.append(r), Ws.append(W)
    out = acts[-1]
    delta = 2 * (out - Y) / Y.size
    dZ = [np.zeros_like(z) for z in Z]
    dW, db = [None] * (L - 1), [None] * (L - 1)
    for l in range(L - 1, 0, -1):
        if l < L - 1:
            delta = delta * (1 - acts[l] ** 2)  # tanh' = 1 - tanh^2
        dW[l - 1] = delta.T @ acts[l - 1]
        db[l - 1] = delta.sum(axis=0)
        r, W = dists[l], Ws[l]
        g1 = {"right": -2 * r / S**2 * W, "sign": 2 * r / S**2 * W, "half": -r / S**2 * W, "g": W, "phi": -2 / S**2 * W}[dg]
        dJdr = dW[l - 1] * g1
        if penalty is not None:
            dJdr = dJdr + 2 * PK**2 * (r - PQ0) * (r if penalty == "power" else 1.0)
        G = (dJdr / np.where(r == 0, 1.0, r))[:, :, None] * diffs[l]
        dZ[l] += G.sum(axis=1)
        dZ[l - 1] -= G.sum(axis=0)
        delta = delta @ W
    loss = np.mean((out - Y) ** 2)
    if penalty is not None:
        loss += sum(np.sum((PK * (r - PQ0)) ** 2) for r in dists[1:])
    return {"loss": loss, "dZ": dZ, "dW": dW, "db": db, "dX": delta}
