"""Issue 17, item 1: the torch engine leaves results where they are computed (as_numpy=False) and
computes only the quantities asked for; the default (NumPy, every quantity) is unchanged. Runs on the
CPU with device="cpu" (the same code a CUDA run takes) and, where CUDA is present, on the GPU too."""

import numpy as np
import pytest
import torch

from derive import MLP, Net, Params, SpecError
from numeric import autograd
from tests.helpers import random_data, random_params

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
FIELDS = ("dW", "dZ", "db", "dX")


def _case(net=None):
    net = net or Net((3, 4, 2), hidden="tanh", bias=True)
    return net, random_params(net), *random_data(net)


def _np(x):
    return x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)


@pytest.mark.parametrize("device", DEVICES)
def test_as_numpy_false_gives_the_same_numbers_as_tensors_on_the_device(device):
    net, p, X, Y = _case()
    ref = autograd.gradients(net, p, X, Y)
    got = autograd.gradients(net, p, X, Y, device=device, as_numpy=False)
    assert torch.is_tensor(got.loss) and got.loss.device.type == device
    assert float(got.loss) == pytest.approx(ref.loss, rel=1e-13)
    for name in FIELDS:
        for g, r in zip(getattr(got, name) if name != "dX" else [got.dX], getattr(ref, name) if name != "dX" else [ref.dX]):
            assert torch.is_tensor(g) and g.device.type == device and not g.requires_grad
            np.testing.assert_allclose(_np(g), r, rtol=1e-12, atol=1e-14)
    for g, r in zip(got.delta[1:] + got.dA, ref.delta[1:] + ref.dA):
        assert torch.is_tensor(g)
        np.testing.assert_allclose(_np(g), r, rtol=1e-12, atol=1e-14)
    assert got.delta[0] is None


def test_default_is_numpy_with_every_quantity():
    net, p, X, Y = _case()
    g = autograd.gradients(net, p, X, Y)
    assert isinstance(g.loss, float)
    assert all(isinstance(a, np.ndarray) for a in g.dW + g.dZ + g.db + [g.dX] + g.delta[1:] + g.dA)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("as_numpy", [True, False])
def test_only_the_asked_quantities_are_computed(device, as_numpy, monkeypatch):
    net, p, X, Y = _case()
    ref = autograd.gradients(net, p, X, Y)
    asked = []
    real_grad = torch.autograd.grad

    def spy(outputs, inputs, *a, **k):
        asked.append([tuple(t.shape) for t in inputs])
        return real_grad(outputs, inputs, *a, **k)

    monkeypatch.setattr(torch.autograd, "grad", spy)
    g = autograd.gradients(net, p, X, Y, device=device, as_numpy=as_numpy, quantities=("loss", "dZ"))
    # dL/dZ by autograd w.r.t. Z itself: no N_l x N_(l-1) weight is a differentiation target
    assert asked == [[z.shape for z in p.Z]]
    assert g.dW is None and g.db is None and g.dX is None and g.delta is None and g.dA is None
    for a, r in zip(g.dZ, ref.dZ):
        np.testing.assert_allclose(_np(a), r, rtol=1e-12, atol=1e-14)
    assert float(g.loss) == pytest.approx(ref.loss, rel=1e-13)
    asked.clear()
    only_loss = autograd.gradients(net, p, X, Y, device=device, as_numpy=as_numpy, quantities=("loss",))
    assert asked == [] and only_loss.dZ is None and float(only_loss.loss) == pytest.approx(ref.loss, rel=1e-13)


@pytest.mark.parametrize("quantities", [("dW",), ("db", "dX"), ("delta",), ("dA",), ("dW", "dZ")])
def test_each_subset_matches_the_full_call(quantities):
    net, p, X, Y = _case()
    ref = autograd.gradients(net, p, X, Y)
    g = autograd.gradients(net, p, X, Y, quantities=quantities)
    for name in ("dW", "dZ", "db", "dX", "delta", "dA"):
        got, want = getattr(g, name), getattr(ref, name)
        if name not in quantities:
            assert got is None, name
            continue
        got, want = (got, want) if isinstance(want, list) else ([got], [want])
        for a, r in zip(got, want):
            if r is None:
                assert a is None
            else:
                np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-14)


def test_mlp_weights_gradient_alone():
    net = MLP((3, 4, 2), activations="tanh", bias=True)
    p, (X, Y) = random_params(net), random_data(net)
    ref = autograd.gradients(net, p, X, Y)
    g = autograd.gradients(net, p, X, Y, quantities=["loss", "dW"], as_numpy=False)
    for a, r in zip(g.dW, ref.dW):
        np.testing.assert_allclose(_np(a), r, rtol=1e-12, atol=1e-14)


def test_unknown_quantity_is_a_spec_error():
    net, p, X, Y = _case()
    with pytest.raises(SpecError, match="unknown quantity 'dQ'"):
        autograd.gradients(net, p, X, Y, quantities=("loss", "dQ"))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method", ["double_backward", "func"])
def test_hvp_as_tensors_on_the_device(device, method):
    net, p, X, Y = _case()
    rng = np.random.default_rng(3)
    V = [rng.standard_normal(z.shape) for z in p.Z]
    ref = autograd.hvp(net, p, X, Y, V, method=method)
    got = autograd.hvp(net, p, X, Y, V, device=device, method=method, as_numpy=False)
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        assert torch.is_tensor(g) and g.device.type == device and g.shape == r.shape
        np.testing.assert_allclose(_np(g), r, rtol=1e-12, atol=1e-14)
    Vb = V + [rng.standard_normal(b.shape) for b in p.b]
    ref_b = autograd.hvp(net, p, X, Y, Vb)
    got_b = autograd.hvp(net, p, X, Y, Vb, device=device, as_numpy=False)
    assert [tuple(g.shape) for g in got_b] == [r.shape for r in ref_b]
    for g, r in zip(got_b, ref_b):
        np.testing.assert_allclose(_np(g), r, rtol=1e-12, atol=1e-14)
    flat = np.concatenate([v.reshape(-1) for v in Vb])
    got_f = autograd.hvp(net, p, X, Y, flat, device=device, as_numpy=False)
    assert torch.is_tensor(got_f) and got_f.ndim == 1
    np.testing.assert_allclose(_np(got_f), autograd.hvp(net, p, X, Y, flat), rtol=1e-12, atol=1e-14)


def test_hvp_non_finite_is_a_spec_error_on_the_tensor_path(monkeypatch):
    net, p, X, Y = _case()
    from numeric.autograd import second_order

    monkeypatch.setattr(second_order, "function_hvp", lambda f, x0, v, method: x0 * float("nan"))
    with pytest.raises(SpecError, match="not finite"):
        autograd.hvp(net, p, X, Y, p.Z, as_numpy=False)


def test_params_unchanged_by_the_tensor_path():
    net, p, X, Y = _case()
    before = [z.copy() for z in p.Z]
    autograd.gradients(net, p, X, Y, as_numpy=False, quantities=("loss", "dZ"))
    assert all(np.array_equal(a, b) for a, b in zip(before, p.Z))
    assert isinstance(p, Params)


@pytest.mark.parametrize("device", DEVICES)
def test_eq8_formulation_gives_dz_from_dw_without_differentiating_z(device, monkeypatch):
    net, p, X, Y = _case()
    ref = autograd.gradients(net, p, X, Y)
    asked = []
    real_grad = torch.autograd.grad
    monkeypatch.setattr(torch.autograd, "grad", lambda o, i, *a, **k: asked.append(len(i)) or real_grad(o, i, *a, **k))
    g = autograd.gradients(net, p, X, Y, device=device, formulation="eq8", as_numpy=False, quantities=("loss", "dZ"))
    assert asked == [net.L - 1] and g.dW is None  # the weights are the only targets, and dW stays inside
    for a, r in zip(g.dZ, ref.dZ):
        assert a.device.type == device
        np.testing.assert_allclose(_np(a), r, rtol=1e-12, atol=1e-14)


def test_eq8_at_coincident_nodes_uses_the_limit():
    Z = [np.zeros((2, 3)), np.zeros((2, 3)), np.ones((1, 3))]
    X, Y = np.ones((1, 2)), np.zeros((1, 1))
    for kernel in ("gaussian", "wendland_c2", "inverse_multiquadric"):
        net = Net((2, 2, 1), kernel=kernel)
        ref = autograd.gradients(net, Params(Z=Z), X, Y)
        got = autograd.gradients(net, Params(Z=Z), X, Y, formulation="eq8")
        for a, r in zip(got.dZ + got.dW, ref.dZ + ref.dW):
            assert np.all(np.isfinite(a))
            np.testing.assert_allclose(a, r, rtol=1e-13, atol=1e-15)
    with pytest.raises(SpecError, match="coincide"):
        autograd.gradients(Net((2, 2, 1), kernel="exponential"), Params(Z=Z), X, Y, formulation="eq8")
