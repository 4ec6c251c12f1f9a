"""check-grad: the catalog of wrong implementations (each caught, each diagnosed), the correct one
passing (float64, float32, torch tensors, an MLP, a family of sizes), shrinking, and bad input."""

import re
import shlex
from dataclasses import replace

import catalog_grads as C  # tests/ is on sys.path (pytest rootdir-relative import)
import numpy as np
import pytest

import derivcheck
from derivcheck import cli
from derive import MLP, SpecError, VerificationError
from tests.helpers import REPO

ROOT = REPO
CASES = 4  # drawn cases per check (plus 5 adversarial ones): small nets, fast

QS = "loss, dZ, dW, db, dX"
# (function, expected diagnosis, quantities it names, widths of the shrunk counterexample)
CATALOG = [
    ("wrong_sign", "sign flipped", "dZ, dW, db, dX", (1, 1)),
    ("half", "off by a constant factor 0.5000 on every entry", "dZ, dW, db, dX", (1, 1)),
    ("transposed_dW", "equals the truth transposed", "dW", (1, 2)),
    ("no_forward_term", "without the forward term of eq. (8)", "dZ", (1, 1)),
    ("h_for_a", "pre-activation h in place of a", "dZ, dW", (1, 1, 1)),
    ("eps_mismatch", "error grows as nodes approach", None, (1, 1)),
    ("no_bias_grad", "the bias gradient is missing", "db", (1, 1)),
    ("loss_sum", "6.0000 on every entry = B K = 6, the batch size times the number of outputs: loss mean vs sum", QS, (1, 2)),
]


@pytest.mark.parametrize("name,diagnosis,quantities,shrunk", CATALOG, ids=[c[0] for c in CATALOG])
def test_catalog_bug_is_caught_and_diagnosed(name, diagnosis, quantities, shrunk):
    result = derivcheck.check_grad(getattr(C, name), C.NET, cases=CASES, seed=3)
    assert not result and not result.agrees
    assert result.failed == result.checked  # these mistakes show on every case
    assert result.diagnosis is not None and diagnosis in result.diagnosis, result.report()
    if quantities is not None:
        assert result.diagnosis.startswith(quantities + ":")
    assert result.shrunk is not None and result.shrunk.net.widths == shrunk and result.shrunk.batch == 1
    assert result.shrunk_findings and result.findings
    assert result.command == "derivcheck.check_grad(make.<locals>.fn, net, cases=4, seed=3)"
    with pytest.raises(VerificationError, match="diagnosis"):
        result.raise_if_failed()


def test_nan_at_coincident_nodes_is_diagnosed():
    result = derivcheck.check_grad(C.naive_phi, C.NET, cases=CASES)
    assert not result and result.by_kind["coincident"] == [1, 1] and result.failed == 1
    assert result.diagnosis == (
        "dZ: returns NaN or inf at coincident nodes (r = 0): use phi(0) = lim g'(r)/r (= g''(0)) there, not g'(r)/r"
    )
    assert result.shrunk.kind == "coincident" and set(result.shrunk.net.widths) == {1}


@pytest.mark.parametrize(
    "family,message", [("L=2..4", "not L=lo..hi,N=lo..hi"), ("L=1..2,N=1..2", "use L >= 2"), ("L=2..3,N=2..1", "is empty")]
)
def test_bad_family_is_a_spec_error(family, message):
    with pytest.raises(SpecError, match=message):
        derivcheck.check_grad(C.correct, C.NET, family=family)


def test_eps_mismatch_error_grows_from_9e_9_to_6e_5():
    """The absolute dZ error of the moved node grows 6400-fold from separation 1 to 1e-4 (29% of that
    edge's term of eq. (8) there), and falls back at 1e-6 as g'(r) -> 0; measured on the shrunk
    counterexample, one edge (widths 1-1) that still fails on dZ."""
    result = derivcheck.check_grad(C.eps_mismatch, C.NET, cases=CASES)
    text = result.diagnosis
    assert text.startswith("error grows as nodes approach: 8.6e-09 at separation 1, 9.2e-07 at 1e-2, 5.5e-05 at 1e-4,")
    assert "1.9e-06 at 1e-6" in text and "0.29 of that edge's term of eq. (8) at 1e-4" in text
    assert result.shrunk is not None and result.shrunk.net.widths == (1, 1)
    assert any(f.quantity == "dZ" for f in result.shrunk_findings)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_correct_passes_every_strategy(dtype):
    result = derivcheck.check_grad(C.correct, C.NET, cases=CASES, dtype=dtype)
    assert result, result.report()
    assert set(result.by_kind) == {"drawn", "near", "coincident", "saturated"}
    assert result.dtype == np.dtype(dtype).name
    result.raise_if_failed()


def test_correct_passes_a_family_of_sizes_and_relu_kinks():
    assert derivcheck.check_grad(C.correct, C.NET, cases=2, family="L=2..4,N=1..3")
    result = derivcheck.check_grad(C.correct_relu, replace(C.NET, hidden="relu"), cases=2)
    assert result and result.by_kind["relu_kink"] == [0, 1]
    mlp = MLP((2, 3, 2), activations="sigmoid", loss="sse_half", bias=True)
    assert derivcheck.check_grad(C.mlp_correct, mlp, cases=CASES)


def test_mlp_wrong_sign_is_caught():
    def wrong(W, X, Y, b=None):
        return [-w for w in C.mlp_correct(W, X, Y, b=b)["dW"]]  # a list means dW per layer for an MLP

    mlp = MLP((2, 3, 2), activations="sigmoid", loss="sse_half", bias=True)
    result = derivcheck.check_grad(wrong, mlp, cases=CASES)
    assert not result and "dW: sign flipped" in result.diagnosis


def test_torch_tensors_are_passed():
    torch = pytest.importorskip("torch")

    def fn(Z, X, Y, b=None):
        assert all(isinstance(t, torch.Tensor) for t in [*Z, X, Y, *b])
        out = C.correct([z.numpy() for z in Z], X.numpy(), Y.numpy(), b=[v.numpy() for v in b])
        return {q: [torch.from_numpy(np.asarray(a)) for a in v] if isinstance(v, list) else torch.tensor(v) for q, v in out.items()}

    result = derivcheck.check_grad(fn, C.NET, cases=2, torch=True)
    assert result and "torch=True" in result.command


def test_not_generic_function_is_not_shrunk_in_size():
    def fixed(Z, X, Y, b=None):
        if tuple(len(z) for z in Z) != C.NET.widths:
            raise ValueError("only the 2-3-2 net")
        return C.wrong_sign(Z, X, Y, b=b)

    result = derivcheck.check_grad(fixed, C.NET, cases=2)
    assert not result and result.shrunk.net.widths == C.NET.widths and result.shrunk.batch == 1
    with pytest.raises(SpecError, match="fn raised ValueError: only the 2-3-2 net"):
        derivcheck.check_grad(fixed, C.NET, cases=2, family="L=2..3,N=1..2")


def test_transposed_square_layer_is_diagnosed():
    from derive import Net

    net = Net((2, 2, 2), dim=2, kernel="exp(-r**2/s**2)", kernel_params={"s": C.S}, loss="mse", bias=True)
    result = derivcheck.check_grad(C.transposed_dW, net, cases=2)
    assert "dW: equals the truth transposed" in result.diagnosis


def test_same_seed_same_report():
    a = derivcheck.check_grad(C.half, C.NET, cases=2, seed=5).report()
    b = derivcheck.check_grad(C.half, C.NET, cases=2, seed=5).report()
    assert a == b and "seed 5" in a


def test_cli_examples_exit_codes(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert cli.main(["check-grad", "examples/my_grad.py:grad", "--net", "examples/my_net.toml", "--cases", "3"]) == 0
    assert "agrees" in capsys.readouterr().out
    assert cli.main(["check-grad", "examples/my_grad.py:grad_buggy", "--net", "examples/my_net.toml", "--cases", "3"]) == 1
    out = capsys.readouterr().out
    assert "diagnosis: error grows as nodes approach" in out and "shrunk counterexample" in out
    # the command on its own line under "reproduce:", whole (a folded command would not paste)
    assert "reproduce:\n  derivcheck check-grad examples/my_grad.py:grad_buggy --net examples/my_net.toml --seed 0" in out


def _write(tmp_path, body, name="user.py"):
    p = tmp_path / name
    p.write_text(body)
    return str(p)


@pytest.mark.parametrize(
    "body,message",
    [
        (None, "no file"),
        ("import numpy\n\n\ndef grad(Z, X, Y):\n    return [z for z in Z\n", "SyntaxError"),
        ("raise RuntimeError('boom')\n", "importing .* raised RuntimeError: boom \\(at .*user.py:1\\)"),
        ("def other(Z, X, Y):\n    return []\n", "has no function 'grad'"),
        ("def grad(Z, X, Y):\n    return 1 / 0\n", "fn raised ZeroDivisionError: division by zero \\(at .*user.py:2\\)"),
        ("def grad(Z, X, Y):\n    return [z[:, :1] for z in Z]\n", "dZ of layer 1 with shape \\(3, 1\\), expected \\(3, 2\\)"),
        ("def grad(Z, X, Y):\n    return Z[:2]\n", "fn returned 2 arrays for dZ, expected 3"),
        ("def grad(Z, X, Y):\n    return {'dQ': Z}\n", "unknown quantity 'dQ'"),
        ("def grad(Z, X, Y):\n    return {'db': Z}\n", "unknown quantity 'db' \\(the net has no biases\\)"),
        ("def grad(Z, X, Y):\n    return 'dZ'\n", "fn returned str"),
        ("import sys\n\n\ndef grad(Z, X, Y):\n    sys.exit(3)\n", "fn called sys.exit\\(3\\) on widths"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, body, message):
    path = _write(tmp_path, body) if body is not None else str(tmp_path / "missing.py")
    code = cli.main(["check-grad", f"{path}:grad", "--net", str(ROOT / "examples/my_net.toml"), "--cases", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1, err
    assert re.search(message, err), err


def test_module_target_and_bad_target(capsys):
    assert (
        cli.main(
            [
                "check-grad",
                "catalog_grads:correct",
                "--widths",
                "2,3,2",
                "--dim",
                "2",
                "--kernel",
                "exp(-r**2/s**2)",
                "--param",
                "s=0.8",
                "--bias",
                "--cases",
                "1",
            ]
        )
        == 0
    )
    assert cli.main(["check-grad", "no_such_module_xyz:f", "--widths", "2,1", "--cases", "1"]) == 2
    assert "cannot import no_such_module_xyz" in capsys.readouterr().err
    assert cli.main(["check-grad", "grad", "--widths", "2,1"]) == 2


def _readme_section(title):
    text = (ROOT / "README.md").read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def test_readme_check_grad_section_runs_as_written(capsys, monkeypatch):
    """The README's commands exit as their comments say; its Python snippet runs."""
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT))
    section = _readme_section("Check your own gradient code")
    shell = section.split("```sh\n")[1].split("```")[0]
    commands = [line for line in shell.splitlines() if line.strip()]
    assert len(commands) >= 2
    for line in commands:
        command, _, comment = line.partition("#")
        argv = shlex.split(command)
        assert argv[0] == "derivcheck"
        expected = int(re.search(r"exit (\d)", comment).group(1))
        assert cli.main(argv[1:]) == expected, line
    assert "error grows as nodes approach" in capsys.readouterr().out
    snippet = section.split("```python\n")[1].split("```")[0]
    exec(compile(snippet, "README.md", "exec"), {})


def test_b_reaches_fn_as_the_readme_says_a_list_of_1d_arrays_one_per_layer_2_to_L():
    """README: `b=` is a list of 1-D arrays, one per layer 2..L (b[0] of length N_2 ... b[-1] of length N_L)."""
    from derive import Net

    assert "`b=` with biases: a list of 1-D arrays, one per layer 2..L" in " ".join(
        _readme_section("Check your own gradient code").split()
    )
    net = Net((2, 3, 2), dim=2, kernel="exp(-r**2/s**2)", kernel_params={"s": C.S}, loss="mse", bias=True)
    seen = []

    def fn(Z, X, Y, b=None):
        seen.append([np.shape(v) for v in b])
        return C.correct(Z, X, Y, b=b)

    assert derivcheck.check_grad(fn, net, cases=1)
    assert seen and all(shapes == [(3,), (2,)] for shapes in seen)
