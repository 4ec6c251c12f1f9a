"""check-grad on an ordinary MLP with weight decay and L1 (issue 23, item 3: penalties on kind = "mlp"
over W directly), on gradient code written the way a textbook writes it: J = L + lam sum W^2 and its
gradient dW += lam * 2 * W (and lam1 * sign(W) for an L1 term). Correct code passes; the usual slips (the
factor 2 forgotten, the penalty forgotten, sign(W) replaced by 1) fail with the diagnosis naming them."""

import textwrap

import numpy as np
import pytest

import derivcheck
from derivcheck import cli
from derive import MLP

CASES = 3
LAM, LAM1 = 0.01, 0.02


def textbook(W, X, Y, b, lam=LAM, two=2.0, lam1=0.0, l1_grad=np.sign, grad_penalty=True):
    """A tanh-sigmoid MLP with the textbook cost C = 1/n sum_x 1/2 ||y - a||^2 + lam sum_l ||W_l||^2
    (+ lam1 sum_l |W_l|), backprop written out; `two` is the 2 of d(w^2)/dw, `grad_penalty=False` leaves
    the penalty out of dW (it stays in the cost), `l1_grad` is the code's d|w|/dw."""
    n = X.shape[0]
    acts = [X]
    for l, (w, bias) in enumerate(zip(W, b)):
        z = acts[-1] @ w.T + bias
        acts.append(1 / (1 + np.exp(-z)) if l == len(W) - 1 else np.tanh(z))
    a = acts[-1]
    C = 0.5 * np.sum((a - Y) ** 2) / n + lam * sum(np.sum(w**2) for w in W) + lam1 * sum(np.sum(np.abs(w)) for w in W)
    delta = (a - Y) * a * (1 - a) / n
    dW, db = [None] * len(W), [None] * len(W)
    for l in range(len(W) - 1, -1, -1):
        dW[l], db[l] = delta.T @ acts[l], delta.sum(axis=0)
        if grad_penalty:
            dW[l] += lam * two * W[l] + lam1 * l1_grad(W[l])
        dA = delta @ W[l]
        if l:
            delta = dA * (1 - acts[l] ** 2)
    return {"loss": C, "dW": dW, "db": db, "dX": dA}


def _net(l1=False):
    pens = [{"rho": "w**2", "scale": LAM}] + ([{"rho": "abs(w)", "scale": LAM1}] if l1 else [])
    return MLP((3, 4, 2), activations=("tanh", "sigmoid"), loss="sse_half", loss_reduction="batch", penalties=pens)


def _check(l1=False, **kw):
    return derivcheck.check_grad(
        lambda W, X, Y, b=None: textbook(W, X, Y, b, lam1=LAM1 if l1 else 0.0, **kw), _net(l1), cases=CASES
    )


@pytest.mark.parametrize("l1", [False, True])
def test_textbook_weight_decay_passes(l1):
    result = _check(l1)
    assert result, result.report()
    assert result.checked >= CASES


BUGS = [
    ({"two": 1.0}, False, "dW: matches with the gradient of the penalty 'w**2' at half its value (d/dw w**2 = 2*w)"),
    ({"grad_penalty": False}, False, "dW: matches without the gradient of the penalty 'w**2': it is missing"),
    ({"two": -2.0}, False, "dW: matches with the gradient of the penalty 'w**2' with its sign flipped"),
    ({"grad_penalty": False}, True, "dW: matches the data loss's gradient alone: every penalty's gradient is missing"),
    ({"l1_grad": np.ones_like}, True, "dW: matches with d|w|/dw = 1: the gradient of 'abs(w)' forgets sign(w)"),
]


@pytest.mark.parametrize(
    "kw,l1,diagnosis", BUGS, ids=["factor_2_forgotten", "decay_forgotten", "decay_sign", "all_forgotten", "l1_no_sign"]
)
def test_textbook_weight_decay_slips_are_diagnosed(kw, l1, diagnosis):
    result = _check(l1, **kw)
    assert not result and result.failed == result.checked
    assert result.diagnoses == [diagnosis], result.report()


def test_cli_exit_codes_and_diagnosis(tmp_path, capsys):
    """Through the flags: exit 0 for the textbook code, 1 with the diagnosis for the forgotten factor 2."""
    (tmp_path / "user.py").write_text(
        textwrap.dedent(
            """
            import numpy as np


            def grad(W, X, Y, b=None, two=2.0):
                lam, n = 0.01, X.shape[0]
                acts = [X]
                for l, (w, bias) in enumerate(zip(W, b)):
                    z = acts[-1] @ w.T + bias
                    acts.append(1 / (1 + np.exp(-z)) if l == len(W) - 1 else np.tanh(z))
                a = acts[-1]
                C = 0.5 * np.sum((a - Y) ** 2) / n + lam * sum(np.sum(w ** 2) for w in W)
                delta = (a - Y) * a * (1 - a) / n
                dW, db = [None] * len(W), [None] * len(W)
                for l in range(len(W) - 1, -1, -1):
                    dW[l] = delta.T @ acts[l] + lam * two * W[l]
                    db[l] = delta.sum(axis=0)
                    dA = delta @ W[l]
                    if l:
                        delta = dA * (1 - acts[l] ** 2)
                return {"loss": C, "dW": dW, "db": db, "dX": dA}


            def grad_buggy(W, X, Y, b=None):
                return grad(W, X, Y, b, two=1.0)
            """
        )
    )
    flags = ["--kind", "mlp", "--widths", "3,4,2", "--activations", "tanh,sigmoid", "--loss", "sse_half", "--bias"]
    flags += ["--loss-reduction", "batch", "--penalty", "w**2", "--penalty-scale", "0.01", "--cases", str(CASES)]
    assert cli.main(["check-grad", f"{tmp_path}/user.py:grad", *flags]) == 0
    assert "agrees" in capsys.readouterr().out
    assert cli.main(["check-grad", f"{tmp_path}/user.py:grad_buggy", *flags]) == 1
    out = " ".join(capsys.readouterr().out.split())  # unfolded
    assert "matches with the gradient of the penalty 'w**2' at half its value (d/dw w**2 = 2*w)" in out
    assert "--penalty='w**2' --penalty-scale 0.01 --penalty-reduce sum" in out  # the reproducing command
