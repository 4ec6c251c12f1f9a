"""Formula claims of the sigmoid-MLP note (seed 003), sections 2.1 and 3.2-3.4.

The note: sigmoid in every layer, loss 1/2 (y_hat - y)^2 for a single example, a scalar output, column
vectors z^(n) = W^(n) a^(n-1) + b^(n) (so W^(n) is N_n x N_(n-1)). The View holds row vectors (batch
rows); column-vector formulas are written with transposes of those rows.
"""

from derivcheck.formula import Family, FormulaClaim

DOCUMENT = {
    "id": "003-sigmoid-mlp-note",
    "title": "Backpropagation Explanation for a Scalable Multilayer Perceptron",
    "source": "a note on backpropagation for a scalable multilayer perceptron (note 003)",
}

NOTE = Family(
    kind="mlp",
    layers=(2, 4),
    width=(1, 3),
    batch=(1, 1),
    hidden=("sigmoid",),
    output=("sigmoid",),
    loss=("sse_half",),
    bias=(True,),
    scalar_output=True,
)


def sigmoid_prime(c, l):
    return c.a[l] * (1 - c.a[l])  # sigma'(x) = sigma(x)(1 - sigma(x))


def delta_out(c, l):
    return (c.a[l] - c.Y) * c.dact[l]  # delta^(L) = (y_hat - y) sigma'(z^(L))


def delta_back(c, l):
    # delta^(n-1) = (W^(n) . delta^(n)) (.) sigma'(z^(n-1)), column vectors; l = n-1
    return (c.W[l + 1] @ c.delta[l + 1].T).T * c.dact[l]


def dW(c, l):
    return c.delta[l].T @ c.a[l - 1]  # dL/dW^(n) = delta^(n) a^(n-1)T


def db(c, l):
    return c.delta[l][0]  # dL/db^(n) = delta^(n)


CLAIMS = [
    FormulaClaim(
        "003/2.1-sigma'",
        "dact",
        sigmoid_prime,
        layers="weighted",
        family=NOTE,
        where="section 2.1",
        text=r"\sigma'(x) = \sigma(x)(1-\sigma(x))",
    ),
    FormulaClaim(
        "003/3.2-deltaL",
        "delta",
        delta_out,
        layers="output",
        family=NOTE,
        where="section 3.2",
        text=r"\delta^{(L)} = (\hat y - y)\,\sigma'(z^{(L)})",
    ),
    FormulaClaim(
        "003/3.3-delta",
        "delta",
        delta_back,
        layers="hidden",
        family=NOTE,
        where="section 3.3",
        text=r"\delta^{(n-1)} = (W^{(n)} \cdot \delta^{(n)}) \odot \sigma'(z^{(n-1)})",
        correct=r"\delta^{(n-1)} = (W^{(n)\top} \delta^{(n)}) \odot \sigma'(z^{(n-1)})",
        note="reading: W^(n) is N_n x N_(n-1), as z^(n) = W^(n) a^(n-1) + b^(n) says; the product "
        "is then undefined unless N_n = N_(n-1) and wrong when it is defined. Alternative: W^(n) "
        "stored N_(n-1) x N_n (the transpose), for which the formula is right.",
    ),
    FormulaClaim(
        "003/3.4-dW",
        "dW",
        dW,
        layers="weighted",
        family=NOTE,
        where="section 3.4",
        text=r"\partial L/\partial W^{(n)} = \delta^{(n)} \vec a^{(n-1)\top}",
    ),
    FormulaClaim(
        "003/3.4-db",
        "db",
        db,
        layers="weighted",
        family=NOTE,
        where="section 3.4",
        text=r"\partial L/\partial b^{(n)} = \delta^{(n)}",
    ),
]
