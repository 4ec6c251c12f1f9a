"""Formula claims of the guide (seed 001), chapters 2 and 3.

The guide writes column vectors (z_k = W_k a_(k-1) + b_k, W_k is d_k x d_(k-1)) and numbers the input
a_0 = x; the View holds row vectors (batch rows) with index 0 = the input, so the guide's layer k is
View index k. Scalar-graph examples (2.10, 2.11.1, 3.11, 3.15) are not MLP formulas and are not
encoded here.
"""

import numpy as np

from derivcheck.formula import Family, FormulaClaim

DOCUMENT = {
    "id": "001-guide",
    "title": "Understanding Neural Networks: A Structured Guide to Training and Optimization (formulas)",
    "source": "a structured guide to neural-network training and optimization (note 001)",
}

# Section 2.9: ReLU -> tanh -> sigmoid, loss 1/2 ||y_hat - y||^2, one sample, any widths.
S29 = Family(kind="mlp", activations=("relu", "tanh", "sigmoid"), width=(1, 3), batch=(1, 1), loss=("sse_half",), bias=(True,))
# Section 2.11.2: scalar network with identity activations.
S2112 = Family(
    kind="mlp", activations=("identity", "identity", "identity"), width=(1, 1), batch=(1, 1), loss=("sse_half",), bias=(True,)
)
# Chapter 3 general statements: any activations, one sample.
ANY = Family(kind="mlp", layers=(2, 4), width=(1, 3), batch=(1, 1), loss=("sse_half",), bias=(True,))


def d3(c, l):
    return (c.a[l] - c.Y) * (c.a[l] * (1 - c.a[l]))  # (y_hat - y) (.) (y_hat (.) (1 - y_hat))


def d2(c, l):
    return (c.W[l + 1].T @ c.delta[l + 1].T).T * (1 - c.a[l] ** 2)  # (W_3^T delta_3) (.) (1 - a_2^2)


def d1(c, l):
    return (c.W[l + 1].T @ c.delta[l + 1].T).T * (c.h[l] > 0)  # (W_2^T delta_2) (.) 1[z_1 > 0]


def dW(c, l):
    return c.delta[l].T @ c.a[l - 1]  # delta_k a_(k-1)^T


def db(c, l):
    return c.delta[l][0]  # delta_k


def lin_dW(c, l):
    # (y_hat - y) (w3 w2 x, w3 a1, a2) for w1, w2, w3
    r = (c.a[3] - c.Y)[0, 0]
    w2, w3 = c.W[2][0, 0], c.W[3][0, 0]
    return np.array([[r * {1: w3 * w2 * c.X[0, 0], 2: w3 * c.a[1][0, 0], 3: c.a[2][0, 0]}[l]]])


def lin_db(c, l):
    r = (c.a[3] - c.Y)[0, 0]
    w2, w3 = c.W[2][0, 0], c.W[3][0, 0]
    return np.array([r * {1: w3 * w2, 2: w3, 3: 1}[l]])


def _J(c, k):
    return np.diag(c.dact[k][0]) @ c.W[k]  # J_k = diag(phi_k'(z_k)) W_k


def jac_input(c, l):
    # dL/da_0 = J_1^T J_2^T ... J_L^T dL/da_L
    v = c.dA[c.L - 1][0]
    for k in range(c.L - 1, 0, -1):
        v = _J(c, k).T @ v
    return v[None, :]


def jac_rows(c, l):
    # dL/da_n = dL/dy_hat J_L J_(L-1) ... J_(n+1)  (row vectors)
    v = c.dA[c.L - 1][0]
    for k in range(c.L - 1, l, -1):
        v = v @ _J(c, k)
    return v[None, :]


def delta_L(c, l):
    return c.dA[l] * c.dact[l]  # delta_L = dL/dy_hat phi_L'(z_L)


def delta_l(c, l):
    return (c.W[l + 1].T @ c.delta[l + 1].T).T * c.dact[l]  # (W_(l+1)^T delta_(l+1)) (.) phi_l'(z_l)


def dA(c, l):
    return (c.W[l + 1].T @ c.delta[l + 1].T).T  # dL/da = W^T delta


CLAIMS = [
    FormulaClaim(
        "001/2.9-delta3",
        "delta",
        d3,
        layers=(3,),
        family=S29,
        where="section 2.9",
        text=r"\delta_3 = (\hat y - y) \odot (\hat y \odot (1 - \hat y))",
    ),
    FormulaClaim(
        "001/2.9-delta2",
        "delta",
        d2,
        layers=(2,),
        family=S29,
        where="section 2.9",
        text=r"\delta_2 = (W_3^\top \delta_3) \odot (1 - a_2^{\odot 2})",
    ),
    FormulaClaim(
        "001/2.9-delta1",
        "delta",
        d1,
        layers=(1,),
        family=S29,
        where="section 2.9",
        text=r"\delta_1 = (W_2^\top \delta_2) \odot \mathbb I[z_1 > 0]",
        note="ReLU'(0) = 0, as the guide's gate and torch both say",
    ),
    FormulaClaim(
        "001/2.9-dW",
        "dW",
        dW,
        layers="weighted",
        family=ANY,
        where="sections 2.9, 3.10.3, 3.12.2",
        text=r"\partial L/\partial W_k = \delta_k a_{k-1}^\top",
    ),
    FormulaClaim(
        "001/2.9-db",
        "db",
        db,
        layers="weighted",
        family=ANY,
        where="sections 2.9, 3.10.3",
        text=r"\partial L/\partial b_k = \delta_k",
    ),
    FormulaClaim(
        "001/2.11.2-dW",
        "dW",
        lin_dW,
        layers="weighted",
        family=S2112,
        where="section 2.11.2",
        text=r"\nabla f = (\hat y - y)(w_3 w_2 x,\ \cdot,\ w_3 a_1,\ \cdot,\ a_2,\ \cdot)",
    ),
    FormulaClaim(
        "001/2.11.2-db",
        "db",
        lin_db,
        layers="weighted",
        family=S2112,
        where="section 2.11.2",
        text=r"\nabla f = (\hat y - y)(\cdot,\ w_3 w_2,\ \cdot,\ w_3,\ \cdot,\ 1)",
    ),
    FormulaClaim(
        "001/3.2-input",
        "dX",
        jac_input,
        layers="input",
        family=ANY,
        where="section 3.2",
        text=r"\partial L/\partial a_0 = J_1^\top J_2^\top \cdots J_L^\top \partial L/\partial a_L",
    ),
    FormulaClaim(
        "001/3.4-vjp",
        "dA",
        jac_rows,
        layers="below_output",
        family=ANY,
        where="section 3.4",
        text=r"\partial L/\partial a_n = \partial L/\partial \hat y\, J_L J_{L-1} \cdots J_{n+1}",
    ),
    FormulaClaim(
        "001/3.10-deltaL",
        "delta",
        delta_L,
        layers="output",
        family=ANY,
        where="section 3.10.4",
        text=r"\delta_L = \partial L/\partial \hat y\ \phi_L'(z_L)",
    ),
    FormulaClaim(
        "001/3.10-delta",
        "delta",
        delta_l,
        layers="hidden",
        family=ANY,
        where="section 3.10.4",
        text=r"\delta_\ell = (W_{\ell+1}^\top \delta_{\ell+1}) \odot \phi_\ell'(z_\ell)",
    ),
    FormulaClaim(
        "001/3.12.4-dA",
        "dA",
        dA,
        layers="below_output",
        family=ANY,
        where="section 3.12.4",
        text=r"\partial L/\partial a = W^\top \delta",
    ),
]
