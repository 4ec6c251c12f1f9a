"""Cross-engine properties over hypothesis-drawn nets (MATH.md "First order" and "Exact identities")."""

import numpy as np
from hypothesis import given, note
from hypothesis import strategies as st

from derive import symbolic
from numeric import autograd, manual, strategies
from numeric.compare import check_gradients, rotation_asymmetry, tolerance, translation_residual
from numeric.engines import ENGINES

# the float64 host engines other than the ground truth (manual, torch-cpu), from the one table
HOST64 = [e for e in ENGINES.values() if e.name != "symbolic" and e.dtype == np.float64 and e.device == "cpu"]


def _assert_agree(net, params, X, Y, *engines):
    """Each engine against the exact reference: an entry that cancels to 0 by symmetry (dX of two output
    nodes at one place) is exactly 0 there and judged against the gradient's scale, where two rounded
    engines would compare rounding noise with rounding noise."""
    truth = symbolic.gradients(net, params, X, Y)
    for g in engines:
        for f in check_gradients(g, truth):
            assert f.ok, f.describe()


@given(strategies.cases())
def test_manual_and_torch_agree(case):
    net, params, X, Y = case
    note(net.describe())
    _assert_agree(net, params, X, Y, *(e.gradients(net, params, X, Y) for e in HOST64))


@given(strategies.cases(net=strategies.mlps()))
def test_manual_and_torch_agree_on_ordinary_mlps(case):
    net, params, X, Y = case
    _assert_agree(net, params, X, Y, *(e.gradients(net, params, X, Y) for e in HOST64))


@given(strategies.adversarial_cases())
def test_adversarial_draws_agree_and_stay_finite(case):
    kind, net, params, X, Y = case
    note(f"{kind}: {net.describe()}")
    m, t = manual.gradients(net, params, X, Y), autograd.gradients(net, params, X, Y)
    assert all(np.all(np.isfinite(d)) for d in m.dZ + m.dW)
    _assert_agree(net, params, X, Y, t, m)


@given(strategies.cases())
def test_rigid_motion_identities(case):
    net, params, X, Y = case
    assert {e.name for e in HOST64} >= {"manual", "torch-cpu"}
    for g in (e.gradients(net, params, X, Y) for e in HOST64):
        # floored by |loss|: where every dL/dz is rounding noise (a stationary point) the ratio is noise
        assert translation_residual(g.dZ, scale=abs(g.loss)) < tolerance(np.float64, "translation")
        assert rotation_asymmetry(params.Z, g.dZ, scale=abs(g.loss)) < tolerance(np.float64, "rotation")


@given(strategies.cases(layers=st.integers(3, 4), width=st.integers(2, 4)), st.randoms(use_true_random=False))
def test_hidden_permutation_permutes_the_gradient(case, rnd):
    net, params, X, Y = case
    l = rnd.randrange(1, net.L - 1)
    perm = np.array(rnd.sample(range(net.widths[l]), net.widths[l]))
    Zp = [z.copy() for z in params.Z]
    Zp[l] = Zp[l][perm]
    bp = None if params.b is None else [b.copy() for b in params.b]
    if bp is not None:
        bp[l - 1] = bp[l - 1][perm]
    from derive import Params

    g, gp = manual.gradients(net, params, X, Y), manual.gradients(net, Params(Z=Zp, b=bp), X, Y)
    assert abs(g.loss - gp.loss) <= 1e-13 * max(1, abs(g.loss))
    np.testing.assert_allclose(gp.dZ[l], g.dZ[l][perm], rtol=1e-11, atol=1e-13)
