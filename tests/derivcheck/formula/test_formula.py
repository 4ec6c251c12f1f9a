"""Formula claims: broken formulas are caught with a small counterexample, correct ones are proved."""

import numpy as np
import pytest

from derivcheck.formula import Family, FormulaClaim, check_formula, prove_formula

SMALL = Family(
    kind="mlp", layers=(2, 3), width=(1, 2), batch=(1, 2), hidden=("tanh", "sigmoid", "identity"), output=("identity", "sigmoid")
)
SPATIAL = Family(
    kind="spatial",
    layers=(2, 3),
    width=(1, 2),
    dim=(1, 2),
    batch=(1, 1),
    hidden=("tanh", "identity"),
    output=("identity",),
    loss=("mse",),
    bias=(False,),
    kernels=("gaussian",),
)
CASES = 25


def dW_right(c, l):
    return c.delta[l].T @ c.a[l - 1]


def dW_h_for_a(c, l):  # h where a belongs (the coordinate note's eq. (4))
    return c.delta[l].T @ (c.h[l - 1] if l > 1 else c.X)


def delta_right(c, l):
    return (c.delta[l + 1] @ c.W[l + 1]) * c.dact[l]


def delta_transposed(c, l):
    return (c.delta[l + 1] @ c.W[l + 1].T) * c.dact[l]


def _dZ(c, l, sign_forward=1.0, forward=True):
    out = np.zeros_like(c.Z[l])
    if l >= 1:
        G = c.dW[l] * c.phi[l]
        out = out + c.Z[l] * G.sum(axis=1)[:, None] - G @ c.Z[l - 1]
    if forward and l + 1 < c.L:
        G = c.dW[l + 1] * c.phi[l + 1]
        out = out + sign_forward * (c.Z[l] * G.sum(axis=0)[:, None] - G.T @ c.Z[l + 1])
    return out


BROKEN = [
    FormulaClaim("h-for-a", "dW", dW_h_for_a, layers="weighted", family=SMALL),
    FormulaClaim("transposed", "delta", delta_transposed, layers="hidden", family=SMALL),
    FormulaClaim("wrong-sign", "dZ", lambda c, l: _dZ(c, l, sign_forward=-1.0), layers="all", family=SPATIAL),
    FormulaClaim("missing-term", "dZ", lambda c, l: _dZ(c, l, forward=False), layers="all", family=SPATIAL),
]


@pytest.mark.parametrize("claim", BROKEN, ids=lambda c: c.id)
def test_broken_formula_gets_a_small_counterexample(claim):
    v = check_formula(claim, seed=0, cases=CASES, prove=False)
    assert not v.holds and v.counterexample is not None
    ce = v.counterexample
    assert ce.net.count(",") < 12 and "--only " + claim.id in v.command and "--seed 0" in v.command
    if ce.claimed is not None:  # a value mismatch, not an undefined product
        assert ce.claimed != pytest.approx(ce.true)


def test_counterexample_is_shrunk_to_the_smallest_network():
    v = check_formula(BROKEN[0], seed=0, cases=CASES, prove=False)
    # h differs from a only behind a non-identity hidden activation: three layers of width 1 suffice
    assert "widths=(1, 1, 1)" in v.counterexample.net, v.counterexample.net


@pytest.mark.parametrize(
    "claim",
    [
        FormulaClaim("dW", "dW", dW_right, layers="weighted", family=SMALL),
        FormulaClaim("delta", "delta", delta_right, layers="hidden", family=SMALL),
    ],
    ids=lambda c: c.id,
)
def test_correct_formula_holds_and_is_proved(claim):
    v = check_formula(claim, seed=1, cases=CASES)
    assert v.holds and v.counterexample is None
    assert v.proof.startswith("proved for (L, N, B) = (") and "any differentiable activations" in v.proof


def test_correct_coordinate_gradient_holds():
    v = check_formula(FormulaClaim("dZ", "dZ", _dZ, layers="all", family=SPATIAL), seed=0, cases=CASES, prove=False)
    assert v.holds and v.evidence == f"no counterexample in {CASES} cases (no symbolic proof reached)"


def test_proof_rejects_a_wrong_formula():
    assert prove_formula(FormulaClaim("t", "delta", delta_transposed, layers="hidden", family=SMALL)) == ""
    assert prove_formula(FormulaClaim("h", "dW", dW_h_for_a, layers="weighted", family=SMALL)) == ""


def test_bad_claim_spec_is_a_spec_error():
    from derive import SpecError

    with pytest.raises(SpecError, match="unknown quantity"):
        FormulaClaim("x", "dQ", dW_right)
    with pytest.raises(SpecError, match="unknown layer set"):
        FormulaClaim("x", "dW", dW_right, layers="middle")


@pytest.mark.parametrize("quantity,family", [("db", Family(bias=(False,))), ("dZ", Family(kind="mlp"))])
def test_claim_on_a_quantity_the_family_lacks_is_a_spec_error(quantity, family):
    from derive import SpecError

    with pytest.raises(SpecError, match=f"{quantity} does not exist"):
        FormulaClaim("x", quantity, dW_right, family=family)
