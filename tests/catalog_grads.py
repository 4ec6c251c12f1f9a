"""A catalog of hand-written gradient functions for check-grad's tests: one correct NumPy backprop of a
spatially embedded net (gaussian-formula kernel exp(-r^2/s^2), tanh hidden, identity output, mse, biases)
and the same code with one classic mistake each. Each works on any widths (generic), in the dtype of its
inputs.

Interface (derivcheck.checkgrad.userfn): fn(Z, X, Y, b=...) -> dict(loss, dZ, dW, db, dX).
"""

import numpy as np

from derive import Net

S = 0.8
NET = Net(
    (2, 3, 2), dim=2, kernel="exp(-r**2/s**2)", kernel_params={"s": S}, hidden="tanh", output="identity", loss="mse", bias=True
)
EPS = 1e-8


def make(
    sign=1.0,
    factor=1.0,
    transpose_dW=False,
    forward_term=True,
    pre_activation=False,
    eps_mismatch=False,
    bias_grad=True,
    loss_sum=False,
    relu=False,
    naive_phi=False,
):
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


# -- the wider model family (MATH.md): penalties on distances, free amplitudes --------------------
Q0, SP = 0.433, 6.1  # the notebook's distance penalty (s (r - q0))^2
PEN_NET = Net(
    (2, 3, 2),
    dim=2,
    kernel="exp(-r**2/s**2)",
    kernel_params={"s": S},
    hidden="tanh",
    output="identity",
    loss="mse_half",
    bias=True,
    penalties=({"rho": "(s*(r-q0))**2", "params": {"s": SP, "q0": Q0}},),
)
LAYER3_NET = Net(
    (2, 3, 2),
    dim=2,
    kernel="exp(-r**2/s**2)",
    kernel_params={"s": S},
    hidden="tanh",
    output="identity",
    loss="mse_half",
    bias=True,
    penalties=({"rho": "(s*(r-q0))**2", "params": {"s": SP, "q0": Q0}, "layers": [3]},),
)
WIRE_C = 0.05
WIRING_NET = Net(
    (2, 3, 2),
    dim=2,
    kernel="1",
    amplitudes="free",
    hidden="tanh",
    output="identity",
    loss="mse",
    bias=True,
    penalties=({"rho": "abs(w)*r", "scale": WIRE_C, "reduce": "mean"},),
)


def make_family(wiring=False, layers=None, half_penalty=False, wrong_layer=False, no_sign=False):
    """Backprop of J = L + penalty for PEN_NET / LAYER3_NET (gaussian kernel, distance penalty (s (r - q0))^2
    on `layers`, mse_half) or, with wiring=True, WIRING_NET (W = theta, mean of |w| r); with one mistake:
    half_penalty (the notebook's hand-written d/dr: s^2 (r - q0)), wrong_layer (the penalty of layer 3
    differentiated with layer 2's coordinates), no_sign (d|w|/dw taken as 1)."""

    def fn(Z, X, Y, b=None, theta=None):
        L = len(Z)
        a, h, W, K, dz, R = [X], [X], [None], [None], [None], [None]
        for l in range(1, L):
            d = Z[l][:, None, :] - Z[l - 1][None, :, :]
            r = np.sqrt((d**2).sum(-1))
            K.append(np.ones_like(r) if wiring else np.exp(-(r**2) / S**2))
            W.append(theta[l - 1] * K[l] if wiring else K[l])
            dz.append(d)
            R.append(r)
            h.append(a[-1] @ W[l].T + b[l - 1])
            a.append(np.tanh(h[l]) if l < L - 1 else h[l])
        covered = [l for l in range(1, L) if layers is None or l + 1 in layers]
        edges = sum(R[l].size for l in covered)
        if wiring:
            pen = WIRE_C / edges * sum((np.abs(W[l]) * R[l]).sum() for l in covered)
        else:
            pen = sum(((SP * (R[l] - Q0)) ** 2).sum() for l in covered)
        n = Y.size if not wiring else Y.size
        half = 2 if not wiring else 1  # mse_half vs mse
        loss = ((a[-1] - Y) ** 2).sum() / (half * n) + pen
        dA = 2 * (a[-1] - Y) / (half * n)
        dZ = [np.zeros_like(z) for z in Z]
        dW, db, dth = [None] * (L - 1), [None] * (L - 1), [None] * (L - 1)
        for l in range(L - 1, 0, -1):
            delta = dA if l == L - 1 else dA / np.cosh(h[l]) ** 2
            dW[l - 1] = delta.T @ a[l - 1]
            db[l - 1] = delta.sum(axis=0)
            dA = delta @ W[l]
            on = l in covered
            if wiring:
                sign = 1.0 if no_sign else np.sign(W[l])
                if on:
                    dW[l - 1] = dW[l - 1] + WIRE_C / edges * sign * R[l]
                dth[l - 1] = dW[l - 1] * K[l]
                G = (WIRE_C / edges * np.abs(W[l]) / R[l]) if on else np.zeros_like(R[l])  # kernel 1: g' = 0
                m = l
            else:
                G = dW[l - 1] * (-2 / S**2) * W[l]
                m = l
                if on:
                    dpen = (1 if half_penalty else 2) * SP**2 * (R[l] - Q0)
                    if wrong_layer:  # layer 3's penalty gradient, taken with layer 2's distances
                        m = 1
                        dpen = 2 * SP**2 * (R[1] - Q0)
                        dZ[1] += ((dpen / R[1])[:, :, None] * dz[1]).sum(axis=1)
                        dZ[0] -= ((dpen / R[1])[:, :, None] * dz[1]).sum(axis=0)
                    else:
                        G = G + dpen / R[l]
            GZ = G[:, :, None] * dz[l]
            dZ[l] += GZ.sum(axis=1)
            dZ[l - 1] -= GZ.sum(axis=0)
            del m
        out = {"loss": loss, "dZ": dZ, "dW": dW, "db": db, "dX": dA}
        if wiring:
            out["dtheta"] = dth
        return out

    return fn


family_correct = make_family()
layer3_correct = make_family(layers=[3])
wiring_correct = make_family(wiring=True)
half_penalty = make_family(half_penalty=True)
penalty_wrong_layer = make_family(layers=[3], wrong_layer=True)
wiring_no_sign = make_family(wiring=True, no_sign=True)


# -- a new user's realistic backprop (u1's trial, finding 6): W = theta exp(-r^2/s^2), biases, a distance
# penalty (k (r - q0))^2 summed on layer 2 and a wiring cost |w| r averaged over every layer
UK, UQ0, US, UC1, UC2 = 2.0, 0.5, 0.8, 0.1, 0.05
_USER = dict(dim=2, kernel="exp(-r**2/s**2)", kernel_params={"s": US}, loss="mse", bias=True, amplitudes="free")
USER_PENALTIES = (
    {"rho": "(k*(r-q0))**2", "params": {"k": UK, "q0": UQ0}, "scale": UC1, "reduce": "sum", "layers": [2]},
    {"rho": "abs(w)*r", "scale": UC2, "reduce": "mean"},
)
USER_NET = Net((3, 4, 2), penalties=USER_PENALTIES, **_USER)  # type: ignore[arg-type]
USER_NET0 = Net((3, 4, 2), **_USER)  # type: ignore[arg-type]  (no penalties)


def make_user(bug=None, penalties=True):
    """The user's backprop of J = mse + penalties (penalties=False: of USER_NET0), with one bug: "half"
    (the distance penalty's d/dr halved), "sign" (its sign flipped), "dz_notheta" (theta left out of
    dJ/dr), "wire_missing" (the wiring cost's gradient left out), "all_half" (both terms' gradients halved)."""
    c1, c2 = (UC1, UC2) if penalties else (0.0, 0.0)

    def fn(Z, X, Y, b=None, theta=None):
        L = len(Z)
        a, h, W, D, R, G = [X], [X], [None], [None], [None], [None]
        for l in range(1, L):
            d = Z[l][:, None, :] - Z[l - 1][None, :, :]
            r = np.sqrt((d**2).sum(-1))
            g = np.exp(-(r**2) / US**2)
            W.append(theta[l - 1] * g)
            D.append(d), R.append(r), G.append(g)
            h.append(a[-1] @ W[l].T + b[l - 1])
            a.append(np.tanh(h[l]) if l < L - 1 else h[l])
        edges = sum(W[l].size for l in range(1, L))
        loss = np.mean((a[-1] - Y) ** 2) + c1 * np.sum((UK * (R[1] - UQ0)) ** 2)
        loss += c2 / edges * sum(np.sum(np.abs(W[l]) * R[l]) for l in range(1, L))
        dA = 2 * (a[-1] - Y) / Y.size
        dZ = [np.zeros_like(z) for z in Z]
        dth, db, dWs = [None] * (L - 1), [None] * (L - 1), [None] * (L - 1)
        for l in range(L - 1, 0, -1):
            delta = dA / np.cosh(h[l]) ** 2 if l < L - 1 else dA
            dW = delta.T @ a[l - 1]
            dA = delta @ W[l]
            db[l - 1] = delta.sum(0)
            wire = {"wire_missing": 0.0, "all_half": 0.5}.get(bug, 1.0) * c2 / edges
            Pw, Pr = wire * np.sign(W[l]) * R[l], wire * np.abs(W[l])
            if l == 1:
                dist = c1 * 2 * UK**2 * (R[l] - UQ0)
                Pr = Pr + {"half": 0.5, "all_half": 0.5, "sign": -1.0}.get(bug, 1.0) * dist
            dJdW = dW + Pw
            dWs[l - 1], dth[l - 1] = dJdW, dJdW * G[l]
            amp = 1.0 if bug == "dz_notheta" else theta[l - 1]
            phi = dJdW * amp * (-2 / US**2) * G[l] + (Pr / R[l] if penalties else 0.0)  # dJ/dr / r, finite at r = 0
            GZ = phi[:, :, None] * D[l]
            dZ[l] += GZ.sum(axis=1)
            dZ[l - 1] -= GZ.sum(axis=0)
        return {"loss": loss, "dZ": dZ, "dtheta": dth, "db": db, "dW": dWs}

    return fn


user_correct = make_user()
user_half = make_user("half")
user_sign = make_user("sign")
user_dz_notheta = make_user("dz_notheta")
user_wire_missing = make_user("wire_missing")
user_all_half = make_user("all_half")
user0_correct = make_user(penalties=False)
user0_dz_notheta = make_user("dz_notheta", penalties=False)
