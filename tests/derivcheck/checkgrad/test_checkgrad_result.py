"""check-grad's printed report names the net in words (widths, D, kernel, activations, loss, ...), as the
reports do, never as a Python repr (issue 24: its heading printed `Net(widths=(3, 4, 2), D=2, ...`)."""

import catalog_grads as C  # tests/ is on sys.path (pytest rootdir-relative import)
import pytest

import derivcheck
from derivcheck import cli
from derive import MLP
from tests.helpers import REPO

REPRS = ("Net(", "MLP(", "array(", "Params(", "(3, 4, 2)")

EXAMPLE = ["--net", "examples/my_net.toml", "--cases", "2"]
MLP_FLAGS = "--kind mlp --widths 2,3,2 --activations sigmoid,sigmoid --loss sse_half --bias --cases 2".split()
FLAGS = "--widths 2,3,2 --dim 2 --kernel exp(-r**2/s**2) --param s=0.7 --bias --cases 2".split()


@pytest.mark.parametrize(
    "argv,code",
    [
        (["examples/my_grad.py:grad", *EXAMPLE], 0),
        (["examples/my_grad.py:grad_buggy", *EXAMPLE], 1),
        (["examples/my_grad.py:grad", *EXAMPLE, "--family", "L=2..3,N=1..2"], 0),
        (["tests/catalog_grads.py:mlp_correct", *MLP_FLAGS], 0),
        (["tests/catalog_grads.py:wrong_sign", *FLAGS], 1),
    ],
    ids=["agrees", "buggy", "family", "mlp", "flags-failing"],
)
def test_cli_report_has_no_repr(argv, code, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert cli.main(["check-grad", *argv]) == code
    out = capsys.readouterr().out
    assert not [r for r in REPRS if r in out], out
    head = " ".join(out.replace("\n    ", " ").splitlines()[0].split())  # the heading, its folding undone
    assert " on a net of widths " in head and "loss " in head, head
    if "mlp" not in argv[0]:
        assert "D = 2" in " ".join(out.split()) and "kernel exp(-r**2/s**2)(s=0.7)" in " ".join(out.split())


def test_api_report_of_an_mlp_and_a_penalised_net_has_no_repr():
    def wrong(W, X, Y, b=None):
        return [-w for w in C.mlp_correct(W, X, Y, b=b)["dW"]]

    mlp = MLP((2, 3, 2), activations="sigmoid", loss="sse_half", bias=True)
    reports = [
        derivcheck.check_grad(wrong, mlp, cases=2).report(),
        derivcheck.check_grad(C.user_dz_notheta, C.USER_NET, cases=2).report(),
    ]
    for text in reports:
        assert not [r for r in REPRS if r in text], text
    assert "widths 2-3-2, free weights, activations sigmoid (all layers), loss sse_half, biases" in reports[0]
    assert "free amplitudes" in reports[1] and "penalty" in reports[1]


def test_an_error_in_fn_names_the_net_without_a_tuple(capsys, monkeypatch):
    """NumPy code run with --torch raises in fn: one line, exit 2, naming the widths as the report does."""
    monkeypatch.chdir(REPO)
    assert cli.main(["check-grad", "examples/my_grad.py:grad", *EXAMPLE, "--torch"]) == 2
    err = capsys.readouterr().err
    assert "fn raised TypeError" in err and "on widths 3-4-2, batch 3" in err and "(3, 4, 2)" not in err
