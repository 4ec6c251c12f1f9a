import numpy as np
import pytest
import torch
from helpers import all_grads, random_data, random_params

from derive import Net, Params, SpecError
from numeric import autograd, manual


def test_coincident_nodes_give_the_limit_not_nan():
    Z = [np.zeros((2, 3)), np.zeros((2, 3)), np.ones((1, 3))]
    X, Y = np.ones((1, 2)), np.zeros((1, 1))
    for kernel in ("gaussian", "wendland_c2", "cosine_cutoff", "inverse_multiquadric"):
        net = Net((2, 2, 1), kernel=kernel)
        t, m = autograd.gradients(net, Params(Z=Z), X, Y), manual.gradients(net, Params(Z=Z), X, Y)
        assert np.all(np.isfinite(all_grads(t)))
        np.testing.assert_allclose(all_grads(t), all_grads(m), rtol=1e-13, atol=1e-15)
    with pytest.raises(SpecError, match="coincide"):
        autograd.gradients(Net((2, 2, 1), kernel="exponential"), Params(Z=Z), X, Y)


@pytest.mark.parametrize("formulation", autograd.FORMULATIONS)
def test_formulations_agree_away_from_coincidence(formulation):
    net = Net((3, 4, 2), hidden="gelu", bias=True)
    p, (X, Y) = random_params(net), random_data(net)
    ref = autograd.gradients(net, p, X, Y)
    got = autograd.gradients(net, p, X, Y, formulation=formulation)
    np.testing.assert_allclose(all_grads(got), all_grads(ref), rtol=1e-12, atol=1e-14)


def test_cuda_request_without_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA present: covered by test_cuda_matches_cpu")
    net = Net((2, 1))
    p, (X, Y) = random_params(net), random_data(net)
    with pytest.raises(SpecError, match="cuda"):
        autograd.gradients(net, p, X, Y, device="cuda")
    assert autograd.device_for(None).type == "cpu"


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="torch.cuda is not available on this machine")
def test_cuda_matches_cpu():
    net = Net((3, 5, 2), hidden="tanh", bias=True)
    p, (X, Y) = random_params(net), random_data(net)
    cpu = autograd.gradients(net, p, X, Y, device="cpu")
    gpu = autograd.gradients(net, p, X, Y, device="cuda")
    assert gpu.engine == "torch-cuda"
    np.testing.assert_allclose(all_grads(gpu), all_grads(cpu), rtol=1e-11, atol=1e-13)
    g32 = autograd.gradients(net, p, X, Y, device="cuda", dtype=np.float32)
    np.testing.assert_allclose(all_grads(g32), all_grads(cpu), rtol=1e-3, atol=1e-5)


def _graph_size(t: torch.Tensor) -> int:
    seen, todo = set(), [t.grad_fn]
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        todo.extend(f for f, _ in fn.next_functions)
    return len(seen)


@pytest.mark.parametrize("loss", ["mse", "mse_half", "huber(delta=0.5)", "softmax_ce"])
def test_the_torch_loss_graph_does_not_grow_with_the_outputs(loss):
    """A separable loss is t(a, y) on the whole B x K tensor, so the graph of the gradient (what H v
    differentiates again) is the same for K = 2 and K = 8: splitting a into K columns put one select per
    column into it, each writing a full B x K tensor in the second backward (K^2 B work: 3x the H v at
    widths 1024). softmax_ce, a row loss, keeps its columns: the control, its graph does grow."""
    from numeric.autograd.model import loss_fn

    sizes = []
    for K in (2, 8):
        net = Net((3, 4, K), dim=2, loss=loss)
        p, (X, Y) = random_params(net), random_data(net)
        Z = [torch.tensor(z, requires_grad=True) for z in p.Z]
        value, _ = loss_fn(net, Z, None, None, torch.tensor(X), torch.tensor(Y))
        grads = torch.autograd.grad(value, Z, create_graph=True)
        sizes.append(_graph_size(sum((g * g).sum() for g in grads)))
    assert (sizes[0] == sizes[1]) == (loss != "softmax_ce"), sizes
