"""Formula claims of the coordinate-gradient note (seed 000), eqs. (4), (5)-(7), (8).

View conventions (derivcheck.formula.View): batch rows, index 0 = layer 1. The note writes h for the
quantity fed to the next layer; for the input layer that quantity is the input x, so `_h(c, 0)` is X.
The note's sums are per example; with a batch we sum over the examples (the loss sums them too).
Eqs. (1), (2), (3), (10), (11) are definitions and (9) a statement of shape: nothing to check.
"""

import numpy as np

from derivcheck.formula import Family, FormulaClaim

DOCUMENT = {
    "id": "000-coordinate-note",
    "title": "3D Spatially Embedded Networks: Verifying Coordinate Backpropagation in a Feed Forward MLP",
    "source": "a research note on coordinate backpropagation in 3D spatially embedded MLPs (note 000)",
}

# The note: spatial MLP, one hidden activation f, MSE loss, no biases.
NOTE = Family(
    kind="spatial",
    layers=(2, 4),
    width=(1, 3),
    dim=(1, 3),
    batch=(1, 2),
    hidden=("identity", "tanh", "sigmoid", "softplus"),
    output=("identity",),
    loss=("mse",),
    bias=(False,),
    kernels=("gaussian", "inverse_quadratic"),
)


def _h(c, l):
    return c.X if l == 0 else c.h[l]


def eq4(c, l):
    # dL/dw_{n_l, n_(l-1)} = delta_{n_l} h_{n_(l-1)}
    return c.delta[l].T @ _h(c, l - 1)


def _terms(c, l, G_below, G_above):
    out = np.zeros_like(c.Z[l])
    if G_below is not None:  # sum_j G_ij (z_i - z_j), z_j in layer l-1
        out = out + c.Z[l] * G_below.sum(axis=1)[:, None] - G_below @ c.Z[l - 1]
    if G_above is not None:  # sum_k G_ki (z_i - z_k), z_k in layer l+1
        out = out + c.Z[l] * G_above.sum(axis=0)[:, None] - G_above.T @ c.Z[l + 1]
    return out


def eq5(c, l):
    # (5) with the partials (6) backward and (7) forward: dL/dW g'(r) (z_i - z_j) / r
    below = c.dW[l] * c.dg[l] / c.R[l] if l >= 1 else None
    above = c.dW[l + 1] * c.dg[l + 1] / c.R[l + 1] if l + 1 < c.L else None
    return _terms(c, l, below, above)


def eq8(c, l):
    # (8): [delta^(l) h^(l-1) g'] (z - z')/r  +  [delta^(l+1) h^(l) g'] (z - z')/r
    below = (c.delta[l].T @ _h(c, l - 1)) * c.dg[l] / c.R[l] if l >= 1 else None
    above = (c.delta[l + 1].T @ _h(c, l)) * c.dg[l + 1] / c.R[l + 1] if l + 1 < c.L else None
    return _terms(c, l, below, above)


CLAIMS = [
    FormulaClaim(
        "000/eq4",
        "dW",
        eq4,
        layers="weighted",
        family=NOTE,
        where="eq. (4)",
        text=r"\partial L/\partial w_{n_l,n_{l-1}} = \delta^{(l)}_{n_l} h^{(l-1)}_{n_{l-1}}",
        correct=r"\partial L/\partial w_{n_l,n_{l-1}} = \delta^{(l)}_{n_l} a^{(l-1)}_{n_{l-1}} "
        r"\quad\text{(agrees with (4) only when $f$ is the identity)}",
    ),
    FormulaClaim(
        "000/eq5-7",
        "dZ",
        eq5,
        layers="all",
        family=NOTE,
        where="eqs. (5)-(7)",
        text=r"\partial L/\partial z = \sum \partial L/\partial w\, g'(r)(z_{n_l}-z_{n_{l-1}})/r "
        r"+ \sum \partial L/\partial w\, g'(r)(z_{n_l}-z_{n_{l+1}})/r",
        note="checked with the true dL/dW; the partials (6) backward and (7) forward are both right",
    ),
    FormulaClaim(
        "000/eq8",
        "dZ",
        eq8,
        layers="all",
        family=NOTE,
        where="eq. (8)",
        text=r"\partial L/\partial z_{n_l,d} = \sum [\delta^{(l)} h^{(l-1)} g'] (z-z')/\|z-z'\| "
        r"+ \sum [\delta^{(l+1)} h^{(l)} g'] (z-z')/\|z-z'\|",
        correct=r"\partial L/\partial z_{n_l,d} = \sum [\delta^{(l)} a^{(l-1)} g'] (z-z')/\|z-z'\| "
        r"+ \sum [\delta^{(l+1)} a^{(l)} g'] (z-z')/\|z-z'\|\quad\text{(activations $a$, not $h$)}",
        note="reading: h of the input layer is the input x; alternative (h as the pre-activation "
        "everywhere) fails in the same cases",
    ),
]
