"""check-grad with stated conventions (issue 23.3): correct code written to another convention than the
default fails under the default and passes once the convention is stated (loss_reduction,
relu_grad_at_zero), through the API and the flags."""

import textwrap
from dataclasses import replace

import numpy as np
import pytest

import derivcheck
from derivcheck import cli
from derive import MLP

CASES = 3


def textbook(W, X, Y, b=None, cost="quadratic", relu_ge=False):
    """A textbook MLP (relu hidden layers, sigmoid output) with the cost of the textbooks: the mean over
    the training examples of a sum over the outputs, C = 1/n sum_x C_x, written as in the wild.
    cost "quadratic": C_x = 1/2 ||y - a||^2; "cross_entropy": C_x = -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)].
    relu_ge: ReLU' coded as (z >= 0), i.e. ReLU'(0) = 1."""
    n = X.shape[0]
    zs, acts = [], [X]
    for l, (w, bias) in enumerate(zip(W, b)):
        z = acts[-1] @ w.T + bias
        zs.append(z)
        acts.append(1 / (1 + np.exp(-z)) if l == len(W) - 1 else np.maximum(z, 0))
    a = acts[-1]
    if cost == "quadratic":
        C = 0.5 * np.sum((a - Y) ** 2) / n
        delta = (a - Y) * a * (1 - a) / n
    else:
        C = -np.sum(Y * np.log(a) + (1 - Y) * np.log(1 - a)) / n
        delta = (a - Y) / n  # sigmoid + cross-entropy: the a(1 - a) cancels
    dW, db = [None] * len(W), [None] * len(W)
    for l in range(len(W) - 1, -1, -1):
        dW[l], db[l] = delta.T @ acts[l], delta.sum(axis=0)
        dA = delta @ W[l]
        if l:
            delta = dA * ((zs[l - 1] >= 0) if relu_ge else (zs[l - 1] > 0))
    return {"loss": C, "dW": dW, "db": db, "dX": dA}


def _net(cost, **kw):
    loss = "sse_half" if cost == "quadratic" else "bce"
    return MLP((3, 4, 2), activations=("relu", "sigmoid"), loss=loss, bias=True, **kw)


@pytest.mark.parametrize("cost", ["quadratic", "cross_entropy"])
def test_textbook_batch_mean_output_sum_cost_passes_with_loss_reduction_batch(cost):
    def fn(W, X, Y, b=None):
        return textbook(W, X, Y, b=b, cost=cost)

    wrong = derivcheck.check_grad(fn, _net(cost), cases=CASES)
    assert not wrong
    # sse_half sums over the batch (fn is 1/B of it); bce divides by B K (fn is K = 2 times it)
    factor = "the batch size" if cost == "quadratic" else "2.0000 on every entry = K = 2"
    assert factor in wrong.diagnosis, wrong.diagnosis
    assert 'state loss_reduction = "batch" (--loss-reduction batch)' in wrong.diagnosis
    result = derivcheck.check_grad(fn, _net(cost, loss_reduction="batch"), cases=CASES)
    assert result, result.report()


def test_relu_grad_at_zero_one_passes_code_written_with_x_ge_0():
    def fn(W, X, Y, b=None):
        return textbook(W, X, Y, b=b, relu_ge=True)

    net = _net("quadratic", loss_reduction="batch")
    wrong = derivcheck.check_grad(fn, net, cases=CASES)
    # [failed, judged] per kind: only the case whose pre-activations are exactly 0 fails
    assert not wrong and wrong.by_kind["relu_kink"] == [1, 1] and wrong.by_kind["drawn"][0] == 0
    result = derivcheck.check_grad(fn, replace(net, relu_grad_at_zero=1), cases=CASES)
    assert result and result.by_kind["relu_kink"] == [0, 1], result.report()
    # and the default (torch's ReLU'(0) = 0) code fails under the stated 1
    assert not derivcheck.check_grad(lambda W, X, Y, b=None: textbook(W, X, Y, b=b), replace(net, relu_grad_at_zero=1), cases=CASES)


def test_the_flags_state_the_conventions(tmp_path, capsys):
    (tmp_path / "user.py").write_text(
        "import sys\nsys.path.insert(0, "
        + repr(str(__import__("pathlib").Path(__file__).parent))
        + ")\n"
        + textwrap.dedent(
            """
            from test_checkgrad_conventions import textbook


            def grad(W, X, Y, b=None):
                return textbook(W, X, Y, b=b, relu_ge=True)
            """
        )
    )
    base = ["check-grad", f"{tmp_path}/user.py:grad", "--kind", "mlp", "--widths", "3,4,2", "--activations", "relu,sigmoid"]
    base += ["--loss", "sse_half", "--bias", "--cases", str(CASES)]
    assert cli.main(base) == 1
    capsys.readouterr()
    assert cli.main([*base, "--loss-reduction", "batch", "--relu-grad-at-zero", "1"]) == 0
    assert "agrees" in capsys.readouterr().out


@pytest.mark.parametrize("reduction, outputs", [("mean", 1), ("batch", 0), ("sum", 0)])
def test_per_example_input_gradients_are_judged_as_dX_per_example(reduction, outputs):
    """dX_per_example: row b = d(loss of example b)/dx_b, the loss of a batch of that one example. The
    textbook code's dX is that of 1/B sum_b C_b: per example it is B times it (batch and sum reduce one
    example alike), and 1/K of that under "mean" (divided by B K)."""

    def fn(W, X, Y, b=None, factor=1.0):
        B, K = X.shape[0], Y.shape[1]
        return {"dX_per_example": textbook(W, X, Y, b=b)["dX"] * B / K**outputs * factor}

    net = _net("quadratic", loss_reduction=reduction)
    result = derivcheck.check_grad(fn, net, cases=CASES)
    assert result, result.report()
    wrong = derivcheck.check_grad(lambda W, X, Y, b=None: fn(W, X, Y, b=b, factor=1.5), net, cases=CASES)
    assert not wrong and "dX_per_example of example" in wrong.report()
    assert "dX_per_example: off by a constant factor 1.5000" in wrong.diagnosis
