"""Formula claims of the Hilbert-space note (seed 002): Proposition 1.2 and Corollary 1.2.1.

The note's network: N neurons in every layer, x^0 = f, x^l = b^l + w^l Phi^l(x^(l-1)) (l = 1..L),
F = x^L, S = sum over inputs of ||F - F_inf||^2. In derivcheck terms: an MLP of uniform width with an
identity output, loss "sse", and Phi^1(x^0) as its input X. Dictionary (View index, 0 = input):
x^l = h[l], Phi^l(x^(l-1)) = a[l-1], w^l = W[l], b^l = b[l], DPhi^l(x^(l-1)) = diag(dact[l-1]) (l >= 2),
F - F_inf = a[L-1] - Y, grad_b^l S = db[l], grad_w^l S = dW[l].
"""

import numpy as np

from derivcheck.formula import Family, FormulaClaim

DOCUMENT = {
    "id": "002-hilbert-note",
    "title": "Deep learning, notes (L. Borasi): MLP back-propagation",
    "source": "lecture notes on MLP back-propagation by L. Borasi (note 002)",
}

NOTE = Family(
    kind="mlp",
    layers=(2, 4),
    width=(1, 3),
    uniform_width=True,
    batch=(1, 2),
    hidden=("tanh", "sigmoid", "softplus", "identity"),
    output=("identity",),
    loss=("sse",),
    bias=(True,),
)
ONE_INPUT = Family(
    kind="mlp",
    layers=(3, 4),
    width=(1, 3),
    uniform_width=True,
    batch=(1, 1),
    hidden=("tanh", "sigmoid", "softplus", "identity"),
    output=("identity",),
    loss=("sse",),
    bias=(True,),
)


def _J(c, r):
    """J^l = dx^L/dx^l for example r by (20): J^L = 1, J^(l-1) = J^l w^l DPhi^l(x^(l-1))."""
    L = c.L
    J = [None] * L
    J[L - 1] = np.eye(c.W[L - 1].shape[0], dtype=c.W[L - 1].dtype)
    for l in range(L - 1, 1, -1):
        J[l - 1] = J[l] @ c.W[l] @ np.diag(c.dact[l - 1][r])
    return J


def prop_b(c, l):
    # grad_b^l F = J^l ; grad S = 2 (grad F)^t (F - F_inf), summed over the inputs
    return sum(2 * _J(c, r)[l].T @ (c.a[-1][r] - c.Y[r]) for r in range(c.X.shape[0]))


def prop_w(c, l):
    # grad_w^l F = J^l Phi^l(x^(l-1)):  d F_k / d w_ij = J_ki Phi_j
    return sum(2 * np.outer(_J(c, r)[l].T @ (c.a[-1][r] - c.Y[r]), c.a[l - 1][r]) for r in range(c.X.shape[0]))


def prop_product(c, l):
    # (20) as printed: J^(l-1) = prod_{l'=L}^{l} ( w^l DPhi^{l'}(x^{l'-1}) ), the same w^l in every factor;
    # here m = l-1 is the layer whose bias gradient 2 (J^m)^t (F - F_inf) is claimed.
    m, L = l, c.L
    total = 0
    for r in range(c.X.shape[0]):
        J = np.eye(c.W[L - 1].shape[0], dtype=c.W[L - 1].dtype)
        for k in range(L - 1, m, -1):
            J = J @ c.W[m + 1] @ np.diag(c.dact[k - 1][r])
        total = total + 2 * J.T @ (c.a[-1][r] - c.Y[r])
    return total


def cor_b(c, l):
    # grad_b^(l-1) S = DPhi^l(x^(l-1))^t (w^l)^t grad_b^l S ; here l-1 is the View layer l
    return c.dact[l][0] * (c.W[l + 1].T @ c.db[l + 1])


def cor_w(c, l):
    # grad_w^(l-1) S = 2 (Phi^l(x^(l-1))^{H<-W})^t grad_b^l S, i.e. [.]_{n1 n2} = 2 [grad_b^l S]_{n1} Phi^l(x^(l-1))_{n2}
    return 2 * np.outer(c.db[l + 1], c.a[l][0])


CLAIMS = [
    FormulaClaim(
        "002/P1.2-b",
        "db",
        prop_b,
        layers="weighted",
        family=NOTE,
        where="Proposition 1.2, (20)",
        text=r"\nabla_b^\ell F = \mathbf J^\ell,\ \mathbf J^{\ell-1} = \mathbf J^\ell w^\ell (D\Phi^\ell)(x^{\ell-1}),"
        r"\ \nabla S = 2(\nabla F)^t(F - F_\infty)",
        note="the recursive form of J; summed over the inputs as S is",
    ),
    FormulaClaim(
        "002/P1.2-w",
        "dW",
        prop_w,
        layers="weighted",
        family=NOTE,
        where="Proposition 1.2, (20)",
        text=r"\nabla_w^\ell F = \mathbf J^\ell \Phi^\ell(x^{\ell-1}),\ \nabla S = 2(\nabla F)^t(F - F_\infty)",
    ),
    FormulaClaim(
        "002/P1.2-prod",
        "db",
        prop_product,
        layers="hidden",
        family=NOTE,
        where="Proposition 1.2, (20)",
        text=r"\mathbf J^{\ell-1} = \prod_{\ell'=L}^{\ell} ( w^\ell (D\Phi^{\ell'})(x^{\ell'-1}) )",
        correct=r"\mathbf J^{\ell-1} = \prod_{\ell'=L}^{\ell} ( w^{\ell'} (D\Phi^{\ell'})(x^{\ell'-1}) )",
        note="as printed the product repeats w^l in every factor; reading w^{l'} (surely intended) "
        "gives the recursion, which holds (claim 002/P1.2-b)",
    ),
    FormulaClaim(
        "002/C1.2.1-b",
        "db",
        cor_b,
        layers="hidden",
        family=ONE_INPUT,
        where="Corollary 1.2.1",
        text=r"\nabla_b^{\ell-1} S = (D\Phi^\ell)(x^{\ell-1})^t (w^\ell)^t \nabla_b^\ell S",
        note="reading: one input f (the proof fixes f). Summed over several inputs the recursion does "
        "not hold, since DPhi depends on the input",
    ),
    FormulaClaim(
        "002/C1.2.1-w",
        "dW",
        cor_w,
        layers="hidden",
        family=ONE_INPUT,
        where="Corollary 1.2.1",
        text=r"\nabla_w^{\ell-1} S = 2 (\Phi^\ell(x^{\ell-1})^{\mathcal H\leftarrow\mathcal W})^t \nabla_b^\ell S",
        correct=r"\nabla_w^{\ell-1} S = (\Phi^{\ell-1}(x^{\ell-2})^{\mathcal H\leftarrow\mathcal W})^t "
        r"\nabla_b^{\ell-1} S \ \text{(equivalently } \nabla_w^{\ell} S = (\Phi^\ell(x^{\ell-1})^{\mathcal H"
        r"\leftarrow\mathcal W})^t \nabla_b^{\ell} S\text{, without the factor 2)}",
        note="as printed the right side is 2 x grad_w^l S: the layer index is shifted by one and the "
        "factor 2 is counted twice (grad_b S already carries it)",
    ),
]
