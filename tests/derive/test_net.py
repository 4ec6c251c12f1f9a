import pytest

from derive import MLP, Net, SpecError
from derive.primitives import R


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(widths=(3,)), "L >= 2"),
        (dict(widths=(2, 0, 1)), "width of layer 2"),
        (dict(widths=(2, -1)), "width of layer 2"),
        (dict(widths=(2, 1.5)), "width of layer 2"),
        (dict(widths=(2, 1), dim=0), "dimension D"),
        (dict(widths=(2, 1), kernel="gausian"), "unknown kernel 'gausian'"),
        (dict(widths=(2, 1), hidden="tanhh"), "unknown name 'tanhh'"),
        (dict(widths=(2, 1), loss="mse2"), "unknown name 'mse2'"),
        (dict(widths=(2, 1), loss="huber(delta=-1)"), "must be positive"),
        (dict(widths=(2, 1), kernel="gaussian", kernel_params={"s": -1}), "must be positive"),
        (dict(widths=(2, 1), kernel="gaussian", kernel_params={"q": 1}), "no parameter 'q'"),
        (dict(widths=(2, 1), kernel="exp(-r/t)"), "unknown name 't'"),
        (dict(widths=(2, 1), kernel="exp(-r/s)", kernel_params={"s": float("nan")}), "finite"),
        (dict(widths=(2, 1), hidden="leaky_relu(beta=1)"), "no parameter 'beta'"),
        (dict(widths=(2, 1), loss_reduction="avg"), "loss_reduction 'avg' is unknown"),
        (dict(widths=(2, 1), relu_grad_at_zero=-0.5), "relu_grad_at_zero is -0.5"),
        (dict(widths=(2, 1), relu_grad_at_zero=True), "relu_grad_at_zero is True"),
    ],
)
def test_invalid_specs_fail_at_construction_with_one_line(kwargs, fragment):
    with pytest.raises(SpecError) as info:
        Net(**kwargs)
    msg = str(info.value)
    assert fragment in msg and "\n" not in msg and ";" in msg  # problem; fix


def test_net_defaults_and_layer_activations():
    net = Net((2, 3, 1), hidden="relu", output="sigmoid")
    assert net.L == 3 and net.n_coords == 18
    assert net.f(2).name == "relu" and net.f(3).name == "sigmoid"
    assert Net((2, 1), kernel="exp(-r**2/s**2)", kernel_params={"s": 0.5}).g.bound.subs(R, 0) == 1


def test_mlp_needs_one_activation_per_layer():
    assert MLP((2, 2, 1), activations=("tanh", "sigmoid")).f(3).name == "sigmoid"
    with pytest.raises(SpecError, match="one activation per layer"):
        MLP((2, 2, 1), activations=("tanh",))


def test_nets_are_hashable_values():
    assert Net((2, 1), kernel_params={"s": 2}) == Net((2, 1), kernel_params=(("s", 2.0),))
    assert len({Net((2, 1)), Net((2, 1)), Net((2, 2))}) == 2
