"""numeric.manual.reference: the readable engine, and the proof that the fast engine (what
numeric.manual.gradients is) computes the same thing, including on adversarial inputs."""

import numpy as np
import pytest
from helpers import random_data, random_params
from hypothesis import given
from hypothesis import strategies as st

from derive import MLP, Net, Params, SpecError
from numeric import manual, strategies
from numeric.compare import rel_error, tolerance
from numeric.manual import reference

DTYPES = st.sampled_from([np.float64, np.float32])
# delta and dL/da have no rows of their own in the tolerance table: colsum(delta_l) is db_l and dA[0] is
# dX, so they take those quantities' tolerances.
TABLE_NAME = {"loss": "loss", "dW": "dW", "dZ": "dZ", "db": "db", "dX": "dX", "delta": "db", "dA": "dX"}


def _quantities(g):
    out = {
        "loss": g.loss,
        "dW": g.dW,
        "dZ": g.dZ,
        "db": g.db,
        "dX": g.dX,
        "delta": g.delta[1:],
        "dA": g.dA,
    }  # delta[0] is None: layer 1 has no h
    return {k: v for k, v in out.items() if v is not None}


def _assert_fast_equals_reference(net, params, X, Y, dtype):
    try:
        ref = reference.gradients(net, params, X, Y, dtype=dtype)
    except SpecError as exc:  # the fast route must refuse the same input with the same one-line message
        with pytest.raises(SpecError) as info:
            manual.gradients(net, params, X, Y, dtype=dtype)
        assert str(info.value) == str(exc)
        return
    fast = manual.gradients(net, params, X, Y, dtype=dtype)
    got, want = _quantities(fast), _quantities(ref)
    assert got.keys() == want.keys()
    for q, truth in want.items():
        tol = tolerance(dtype, TABLE_NAME[q])
        assert rel_error(got[q], truth) <= tol, f"{q}: fast vs reference {rel_error(got[q], truth):.3g} > {tol:.1g}"
    for x in (*fast.dW, *(fast.dZ or [])):
        assert x.dtype == dtype


@given(strategies.cases(), DTYPES)
def test_fast_equals_reference(case, dtype):
    _assert_fast_equals_reference(*case, dtype)


@given(strategies.cases(net=strategies.mlps()), DTYPES)
def test_fast_equals_reference_for_mlps(case, dtype):
    _assert_fast_equals_reference(*case, dtype)


@given(strategies.adversarial_cases(), DTYPES)
def test_fast_equals_reference_on_adversarial_cases(case, dtype):
    """Coincident nodes (phi(0) limit), nearly coincident nodes, ReLU at 0, saturated sigmoids."""
    _kind, net, params, X, Y = case
    _assert_fast_equals_reference(net, params, X, Y, dtype)


@given(strategies.adversarial_cases(kind="coincident", kernel="exponential"), DTYPES)
def test_both_refuse_coincident_nodes_when_g_prime_is_nonzero(case, dtype):
    _kind, net, params, X, Y = case
    with pytest.raises(SpecError, match="coincide") as info:
        reference.gradients(net, params, X, Y, dtype=dtype)
    _assert_fast_equals_reference(net, params, X, Y, dtype)
    assert "\n" not in str(info.value)


def test_coordinate_gradient_is_eq_8_summed_over_pairs():
    """The efficient form against eq. (8) written as the sum over j of G_ij (z_i - z'_j)."""
    rng = np.random.default_rng(0)
    Zl, Zp, dW = rng.normal(size=(4, 3)), rng.normal(size=(5, 3)), rng.normal(size=(4, 5))
    phiR = -2 * np.exp(-(reference.distances(Zl, Zp) ** 2))  # gaussian: phi = g'/r = -2 e^{-r^2}
    G = dW * phiR
    diff = Zl[:, None, :] - Zp[None, :, :]  # N_l x N_(l-1) x D: fine at this size
    backward_term, forward_term = reference.coordinate_gradient(dW, phiR, Zl, Zp)
    np.testing.assert_allclose(backward_term, np.einsum("ij,ijd->id", G, diff), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(forward_term, np.einsum("ij,ijd->jd", G, -diff), rtol=1e-12, atol=1e-14)


def test_reference_forward_matches_the_careful_fast_forward():
    net = Net((2, 3, 2), dim=2, bias=True, hidden="sigmoid")
    p, (X, Y) = random_params(net), random_data(net)
    ref, fast = reference.forward(net, p, X, Y), manual.forward(net, p, X, Y)
    for name in ("a", "h", "W", "R", "phiR"):
        for x, y in zip(getattr(ref, name)[1:], getattr(fast, name)[1:]):
            np.testing.assert_allclose(x, y, rtol=1e-14, atol=1e-15)


def test_mlp_reference_has_no_coordinates():
    net = MLP((2, 3, 1), bias=True)
    p, (X, Y) = random_params(net), random_data(net)
    g = reference.gradients(net, p, X, Y)
    assert g.dZ is None and len(g.dW) == 2 and len(g.db) == 2 and g.engine == "reference"


@pytest.mark.parametrize("engine", [reference.gradients, manual.gradients])
def test_device_other_than_cpu_and_odd_dtypes_are_refused(engine):
    net = Net((1, 1), dim=1)
    p = Params(Z=[np.zeros((1, 1)), np.ones((1, 1))])
    X, Y = np.ones((1, 1)), np.zeros((1, 1))
    with pytest.raises(SpecError, match="CPU"):
        engine(net, p, X, Y, device="cuda")
    with pytest.raises(SpecError, match="float32 or float64"):
        engine(net, p, X, Y, dtype=np.float16)
    with pytest.raises(TypeError):
        engine(net, p, X, Y, np.float32)  # dtype is keyword-only (the engine contract)
