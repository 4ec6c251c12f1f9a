"""The exact engine (derive/symbolic.py; its program in tests/test_program.py):
ground truth == the numeric engines, Hessians == torch, eq. (8) proved (and its h-variant refuted)."""

import mpmath
import numpy as np
import pytest
import torch
from helpers import NETS, random_case
from helpers import net_id as _ids
from hypothesis import given
from hypothesis import strategies as st

import numeric.autograd as ag
import numeric.manual as manual
from derive import Net, Params, SpecError
from derive import symbolic as sym
from derive.decide import is_zero
from derive.typeset import cse_latex
from numeric import strategies as dcst
from numeric.compare import check_gradients, rel_error

TOL = 1e-10  # normwise relative error of a float64 engine against the 50-digit truth


def _fields(g):
    return {"loss": g.loss, "dW": g.dW, "dZ": g.dZ, "db": g.db, "dX": g.dX}


@pytest.mark.parametrize("net", NETS, ids=_ids)
def test_gradients_agree_with_manual_and_torch(net):
    p, X, Y = random_case(net)
    truth = sym.gradients(net, p, X, Y)
    assert truth.engine == "symbolic"
    assert isinstance(truth.extra["mp"]["loss"], mpmath.mpf)
    for other in (manual.gradients(net, p, X, Y), ag.gradients(net, p, X, Y)):
        for q, t in _fields(truth).items():
            o = _fields(other)[q]
            assert (o is None) == (t is None), q
            if t is not None:
                err = rel_error(o, t)
                assert err < TOL, f"{q} of {net.describe()}: {other.engine} vs symbolic rel {err:.3g}"


@given(dcst.cases())
def test_gradients_agree_with_manual_hypothesis(case):
    net, p, X, Y = case
    truth, other = sym.gradients(net, p, X, Y), manual.gradients(net, p, X, Y)
    # through the one comparison (rounding-noise floor: a quantity that cancels to ~1e-50, e.g. dX of
    # softmax_ce with every node at 0, is judged against the problem's scale, not against ~0)
    for f in check_gradients(other, truth):
        assert f.error < TOL, f.describe()


@given(dcst.adversarial_cases(layers=st.integers(2, 3), width=st.integers(1, 3)))
def test_adversarial_inputs_match_manual(case):
    kind, net, p, X, Y = case
    try:
        other = manual.gradients(net, p, X, Y)
    except SpecError:
        with pytest.raises(SpecError):
            sym.gradients(net, p, X, Y)
        return
    truth = sym.gradients(net, p, X, Y)
    for q, t in _fields(truth).items():
        if t is not None:
            assert np.all(
                np.isfinite(
                    np.asarray(t, dtype=float)
                    if q == "loss"
                    else np.concatenate([np.ravel(a) for a in (t if isinstance(t, list) else [t])])
                )
            ), (kind, q)
    for f in check_gradients(other, truth):
        assert f.error < 1e-8, (kind, f.describe())


def test_coincident_nodes_limit_and_error():
    net = Net((1, 2, 1), dim=2, kernel="gaussian")
    p, X, Y = random_case(net)
    p.Z[1][0] = p.Z[0][0]
    g = sym.gradients(net, p, X, Y)
    assert rel_error(manual.gradients(net, p, X, Y).dZ, g.dZ) < TOL
    bad = Net((1, 2, 1), dim=2, kernel="exponential")
    with pytest.raises(SpecError, match="node 1 of layer 2 and node 1 of layer 1 coincide"):
        sym.gradients(bad, p, X, Y)


def test_relu_derivative_at_zero_is_zero():
    net = Net((2, 2, 1), dim=2, hidden="relu", bias=True)
    p, X, Y = random_case(net)
    X = np.zeros_like(X)
    p.b = [np.zeros_like(b) for b in p.b]
    g = sym.gradients(net, p, X, Y)
    assert np.all(g.db[0] == 0) and np.all(g.dZ[0] == 0)  # every hidden pre-activation is exactly 0
    assert rel_error(manual.gradients(net, p, X, Y).dZ, g.dZ) < TOL


# -- second order -----------------------------------------------------------------------------------
def _torch_hessian(net, p, X, Y):
    Xt, Yt = torch.tensor(X, dtype=torch.float64), torch.tensor(Y, dtype=torch.float64)
    if net.spatial:
        shapes = [z.shape for z in p.Z]
        b = [torch.tensor(v, dtype=torch.float64) for v in p.b] if p.b is not None else None
        flat0 = torch.tensor(np.concatenate([z.ravel() for z in p.Z]), dtype=torch.float64)

        def f(v):
            Z, pos = [], 0
            for s in shapes:
                Z.append(v[pos : pos + s[0] * s[1]].reshape(s))
                pos += s[0] * s[1]
            return ag.loss_fn(net, Z=Z, b=b, X=Xt, Y=Yt)[0]
    else:
        shapes = [w.shape for w in p.W] + ([b.shape for b in p.b] if net.bias else [])
        flat0 = torch.tensor(
            np.concatenate([w.ravel() for w in p.W] + ([b.ravel() for b in p.b] if net.bias else [])), dtype=torch.float64
        )

        def f(v):
            parts, pos = [], 0
            for s in shapes:
                n = int(np.prod(s))
                parts.append(v[pos : pos + n].reshape(s))
                pos += n
            nW = net.L - 1
            return ag.loss_fn(net, W=parts[:nW], b=parts[nW:] if net.bias else None, X=Xt, Y=Yt)[0]

    return torch.autograd.functional.hessian(f, flat0).numpy()


@pytest.mark.parametrize("net", [NETS[0], NETS[2], NETS[4], NETS[5], NETS[7], NETS[8]], ids=_ids)
def test_hessian_agrees_with_torch(net):
    p, X, Y = random_case(net, batch=2)
    # wrt="Z": the coordinates only (the torch reference below holds a spatial net's biases fixed)
    H = sym.hessian(net, p, X, Y, wrt="Z" if net.spatial else None)
    n = (
        net.n_coords
        if net.spatial
        else sum(a * b for a, b in zip(net.widths[1:], net.widths[:-1])) + (sum(net.widths[1:]) if net.bias else 0)
    )
    assert H.shape == (n, n)
    assert np.array_equal(H, H.T)
    assert rel_error(_torch_hessian(net, p, X, Y), H) < 1e-10


def test_hessian_at_coincident_nodes():
    net = Net((2, 2, 1), dim=2, kernel="wendland_c2")  # lim G''(s) is infinite, but lim r phi'(r) = 0
    p, X, Y = random_case(net, batch=2)
    p.Z[1][1] = p.Z[0][0]
    H = sym.hessian(net, p, X, Y)
    assert np.all(np.isfinite(H))
    assert rel_error(_torch_hessian(net, p, X, Y), H) < 1e-10


def test_hessian_translation_mode_and_hvp():
    net = NETS[0]
    p, X, Y = random_case(net)
    H = sym.hessian(net, p, X, Y, wrt="Z", mp=True)  # the coordinates (this net also has biases)
    D = net.dim
    t = mpmath.matrix([1 if k % D == 0 else 0 for k in range(H.rows)])
    with mpmath.workdps(50):
        assert mpmath.norm(H * t) < mpmath.mpf(10) ** -45  # H t = 0 for a uniform translation (exact)
    V = [np.random.default_rng(3).normal(size=z.shape) for z in p.Z]
    Hv = sym.hvp(net, p, X, Y, V)
    assert [a.shape for a in Hv] == [v.shape for v in V]
    Hf = sym.hessian(net, p, X, Y, wrt="Z")
    assert rel_error(np.concatenate([a.ravel() for a in Hv]), Hf @ np.concatenate([v.ravel() for v in V])) < 1e-12


def test_hessian_wrt_must_fit_net():
    net = NETS[0]
    p, X, Y = random_case(net)
    with pytest.raises(SpecError, match="wrt"):
        sym.hessian(net, p, X, Y, wrt="W")


def test_bad_inputs_are_spec_errors():
    net = NETS[0]
    p, X, Y = random_case(net)
    with pytest.raises(SpecError, match="Y has shape"):
        sym.gradients(net, p, X, Y[:, :1])
    with pytest.raises(SpecError, match="NaN"):
        sym.gradients(net, Params(Z=[z * np.nan for z in p.Z], b=p.b), X, Y)


# -- the derivation report --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def report():
    return sym.derivation()


def test_proof_eq8(report):
    assert report.proof_eq8("a") is True
    assert report.proof_eq8("h") is False  # h in place of a is wrong with tanh hidden units


def test_derivation_objects(report):
    net = report.net
    assert [M.shape for M in report.W] == [(2, 2), (1, 2)]
    assert [M.shape for M in report.dZ] == [(n, 3) for n in net.widths]
    assert report.hessian_block.shape == (3, 3)
    Hb = report.hessian_block
    assert all(is_zero(Hb[d, e] - Hb[e, d]) for d in range(3) for e in range(d + 1, 3))
    # dL/dW_2 = delta_2^T a_1 (eq. (4) with a): a symbolic identity between independent derivations
    assert is_zero((report.dW[0] - report.delta[0].T * report.flat.x)[0, 1])
    repl, lines = cse_latex([report.loss] + [e for M in report.dZ for e in M])
    assert repl and all(isinstance(a, str) and isinstance(b, str) for a, b in repl)
    assert len(lines) == 1 + net.n_coords
