"""numeric.autograd.second_order (torch double backward, torch.func): against the symbolic ground truth, each
other, and the guide's section 2.11.1 example; CUDA when available."""

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, note, settings
from hypothesis import strategies as st

from derive import Net, Params, SpecError, symbolic
from derive.layout import shapes
from numeric import autograd, manual, strategies
from numeric.autograd import second_order
from numeric.compare import rel_error, tolerance

TOL = tolerance(np.float64, "hvp")


def _cat(arrays):
    return np.concatenate([np.asarray(a).reshape(-1) for a in arrays])


def _direction(net, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for _, _, s in shapes(net)]


@st.composite
def small_cases(draw, net=None):
    net = draw(strategies.nets(layers=st.integers(2, 3), width=st.integers(1, 3)) if net is None else net)
    return net, draw(strategies.params_for(net)), *draw(strategies.data_for(net, batch=st.integers(1, 2)))


@settings(max_examples=10)
@given(st.one_of(small_cases(), small_cases(strategies.mlps(layers=st.integers(2, 3), width=st.integers(1, 3)))))
def test_torch_hessian_matches_symbolic(case):
    net, params, X, Y = case
    note(net.describe())
    wrt = "Z" if net.spatial else None
    Hs = symbolic.hessian(net, params, X, Y, wrt=wrt)
    assert rel_error(autograd.hessian(net, params, X, Y, wrt=wrt), Hs) <= TOL


@given(st.one_of(strategies.cases(), strategies.cases(net=strategies.mlps())), st.integers(0, 2**31 - 1))
def test_double_backward_func_and_full_hessian_agree(case, seed):
    net, params, X, Y = case
    V = _direction(net, seed)
    H = autograd.hessian(net, params, X, Y)
    assert np.max(np.abs(H - H.T)) <= TOL * max(np.max(np.abs(H)), 1e-300)
    for method in second_order.METHODS:
        Hv = autograd.hvp(net, params, X, Y, V, method=method)
        assert [h.shape for h in Hv] == [np.shape(v) for v in V]
        assert rel_error(_cat(Hv), H @ _cat(V)) <= TOL, method


@settings(max_examples=10)
@given(strategies.adversarial_cases(kind="coincident", layers=st.integers(2, 3), width=st.integers(1, 3)))
def test_torch_hessian_at_coincident_nodes_matches_manual(case):
    _, net, params, X, Y = case
    H = autograd.hessian(net, params, X, Y)
    assert rel_error(H, manual.hessian(net, params, X, Y)) <= TOL


def test_guide_2_11_1_scalar_example():
    """f = w1^2 + 3 w1 w2 + 2 w2^2, u = (1, -1): H u = (-1, -1) at every w (H is constant)."""
    w1, w2 = sp.symbols("w1 w2", real=True)
    f_exact = w1**2 + 3 * w1 * w2 + 2 * w2**2
    H_exact = sp.hessian(f_exact, (w1, w2))
    assert H_exact == sp.Matrix([[2, 3], [3, 4]])
    u = sp.Matrix([1, -1])
    assert H_exact * u == sp.Matrix([-1, -1])
    # The guide's nabla identity: grad f . u = -(w1 + w2), whose gradient is (-1, -1).
    s = (sp.Matrix([sp.diff(f_exact, w) for w in (w1, w2)]).T * u)[0]
    assert sp.expand(s + w1 + w2) == 0

    def f(w):
        return w[0] ** 2 + 3 * w[0] * w[1] + 2 * w[1] ** 2

    rng = np.random.default_rng(2)
    for w in (torch.zeros(2, dtype=torch.float64), torch.tensor(rng.standard_normal(2))):
        for method in second_order.METHODS:
            hu = second_order.function_hvp(f, w, torch.tensor([1.0, -1.0], dtype=torch.float64), method)
            assert hu.tolist() == [-1.0, -1.0]


def test_unknown_method_and_bad_device_are_spec_errors():
    net = Net((2, 2), dim=2)
    params = Params(Z=[np.eye(2), -np.eye(2)])
    X, Y = np.ones((1, 2)), np.ones((1, 2))
    with pytest.raises(SpecError, match="method"):
        autograd.hvp(net, params, X, Y, params.Z, method="newton")
    if not torch.cuda.is_available():
        with pytest.raises(SpecError, match="cuda"):
            autograd.hvp(net, params, X, Y, params.Z, device="cuda")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="torch.cuda is not available")
def test_cuda_matches_cpu():
    net = Net((3, 4, 2), dim=3, bias=True)
    rng = np.random.default_rng(0)
    params = Params(Z=[rng.uniform(-1, 1, (n, 3)) for n in net.widths], b=[rng.uniform(-1, 1, n) for n in (4, 2)])
    X, Y = rng.uniform(-1, 1, (3, 3)), rng.uniform(-1, 1, (3, 2))
    V = _direction(net, 1)
    cpu = _cat(autograd.hvp(net, params, X, Y, V, device="cpu"))
    for method in second_order.METHODS:
        assert rel_error(_cat(autograd.hvp(net, params, X, Y, V, device="cuda", method=method)), cpu) <= TOL
    H = autograd.hessian(net, params, X, Y, device="cuda")
    assert rel_error(H @ _cat(V), cpu) <= TOL
