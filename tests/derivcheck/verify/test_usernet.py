"""Every verb takes the user's network (issue 13): verify/train/report/audit-kernel with --net or the
network flags, and the flags as users type them (underscored parameter names, formulas that start with
a minus sign, unused or missing parameters). CLI behaviour is tested through `derivcheck.cli.main`."""

from __future__ import annotations

import json

import pytest

from derivcheck.cli import build_parser, main
from derivcheck.netspec import formula_argv
from derive import SpecError
from derive.parse import parse_expr
from tests.helpers import REPO

ROOT = REPO
NET = str(ROOT / "examples" / "my_net.toml")


def test_parameter_names_may_hold_inner_underscores():
    expr = parse_expr("w_max*exp(-r**2)", params=("w_max",))
    assert {s.name for s in expr.free_symbols} == {"w_max", "r"}
    for bad in ("_w*r", "w__x*r", "w_*r", "1_000*r", "__import__('os')"):
        with pytest.raises(SpecError, match="underscore"):
            parse_expr(bad, params=("w",))


def test_formula_with_a_leading_minus_is_a_value_not_an_option():
    _, subs = build_parser("verify")
    argv = formula_argv(["--kernel", "-2*tanh(3*(r-0.4))", "--param", "s=1", "--bias"], subs["verify"])
    assert argv == ["--kernel=-2*tanh(3*(r-0.4))", "--param", "s=1", "--bias"]
    _, subs = build_parser("audit-kernel")
    assert formula_argv(["-exp(-r)", "--seed", "1"], subs["audit-kernel"]) == [" -exp(-r)", "--seed", "1"]
    assert formula_argv(["--widhts", "2,1"], subs["audit-kernel"]) == ["--widhts", "2,1"]  # a typo stays an error


def test_audit_kernel_positional_formula_with_minus_names_the_missing_param(capsys):
    assert main(["audit-kernel", "-exp(-r**2/s**2)"]) == 2
    err = capsys.readouterr().err
    assert "needs a value for s" in err and "--param s=VALUE" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv,message",
    [
        (["audit-kernel", "gaussian", "--param", "w_max=2"], "has no parameter 'w_max'"),
        (["audit-kernel", "exp(-r/s)", "--param", "s=1", "--param", "w_max=2"], "parameter w_max is not used"),
        (["verify", "--widths", "2,1", "--kernel", "exp(-r/s)", "--param", "s=1", "--param", "t_0=2"], "parameter t_0 is not used"),
        (["audit-kernel", "gaussian", "--kernel", "gaussian"], "two kernels given"),
    ],
)
def test_unused_or_doubled_parameters_are_errors(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_underscored_parameter_reaches_the_kernel(tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = [
        "verify",
        "--widths",
        "2,2,1",
        "--dim",
        "1",
        "--kernel",
        "-w_max*tanh(3*(r-0.4))",
        "--param",
        "w_max=2",
        "--cases",
        "2",
        "--engines",
        "manual",
        "--out",
        str(out),
    ]
    assert main(argv) in (0, 1)
    assert json.loads(out.read_text())["cases"][0]["spec"]["kernel_params"] == {"w_max": 2.0}


def test_verify_runs_the_users_network_with_adversarial_cases(tmp_path, capsys):
    out = tmp_path / "results.json"
    assert main(["verify", "--net", NET, "--cases", "3", "--engines", "manual,torch-cpu,fd", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["schema"] == "derivcheck.results/1" and res["summary"]["verdict"] == "pass"
    ids = [c["id"] for c in res["cases"]]
    assert ids[:3] == ["n000", "n001", "n002"]
    assert {"a00-near-1e-3", "a01-near-1e-5", "a02-near-1e-7", "a03-coincident"} <= set(ids)
    assert all(c["spec"]["widths"] == [3, 4, 2] and c["spec"]["kernel"] == "exp(-r**2/s**2)" for c in res["cases"])
    assert res["table"]["manual"]["dZ"]["n"] == len(ids)  # every case judged against the ground truth
    assert "--net" in res["provenance"]["command"] and "--cases 3" in res["provenance"]["command"]
    near = next(c for c in res["cases"] if c["id"] == "a02-near-1e-7")
    # a Gaussian kernel is C2 where nodes meet: central differences hold at any separation (verify_checks)
    assert near["spec"]["separation"] == 1e-7 and near["errors"]["fd"]["grad"]["pass"]
    assert not any(s.startswith("fd:") for s in near["skipped"])
    # --only rebuilds the same case from the seed
    one = tmp_path / "one.json"
    assert main(["verify", "--net", NET, "--cases", "3", "--engines", "manual", "--only", "a02-near-1e-7", "--out", str(one)]) == 0
    again = json.loads(one.read_text())["cases"]
    assert [c["id"] for c in again] == ["a02-near-1e-7"]
    assert again[0]["errors"]["manual"]["dZ"]["rel"] == near["errors"]["manual"]["dZ"]["rel"]


def test_verify_runs_an_mlp_and_a_formula_with_a_leading_minus(tmp_path, capsys):
    out = tmp_path / "mlp.json"
    assert (
        main(
            [
                "verify",
                "--kind",
                "mlp",
                "--widths",
                "3,2,2",
                "--activations",
                "relu,sigmoid",
                "--loss",
                "bce",
                "--bias",
                "--cases",
                "2",
                "--engines",
                "manual,torch-cpu",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    kinds = {c["spec"].get("draw", "drawn") for c in json.loads(out.read_text())["cases"]}
    assert kinds == {"drawn", "relu_kink"}  # no coordinates: no node pairs; bce: no saturation case
    out = tmp_path / "minus.json"
    assert (
        main(
            [
                "verify",
                "--widths",
                "2,2,1",
                "--dim",
                "2",
                "--kernel",
                "-2*exp(-r**2)",
                "--cases",
                "2",
                "--engines",
                "manual,torch-cpu",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert json.loads(out.read_text())["cases"][0]["spec"]["kernel"] == "-2*exp(-r**2)"


# -- train and report -----------------------------------------------------------------------------
def test_gd_backtracks_instead_of_climbing():
    import numpy as np

    from numeric import optim

    H, b = np.diag([1.0, 10.0]), np.ones(2)

    def problem():
        return optim.Problem(lambda x: (0.5 * x @ H @ x - b @ x, H @ x - b), lambda x, v: H @ v, 2)

    x0 = np.array([3.0, -2.0])
    plain = optim.gd(problem(), x0, 0.25, iters=20)  # 0.25 > 2 / lambda_max = 0.2: the plain rule climbs
    assert plain.loss > plain.history[0].loss and plain.settings["loss_increases"] == 20
    safe = optim.gd(problem(), x0, 0.25, iters=20, backtrack=True)
    losses = [h.loss for h in safe.history]
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False)) and safe.settings["backtracks"] >= 1
    assert safe.settings["loss_increases"] == 0 and safe.history[-1].rate < 0.2


def test_train_takes_the_users_network(tmp_path, capsys):
    rc = main(
        [
            "train",
            "--net",
            NET,
            "--hidden",
            "softplus",
            "--loss",
            "sse_half",
            "--method",
            "gd",
            "--iters",
            "5",
            "--quiet",
            "--out",
            str(tmp_path),
        ]
    )
    out = " ".join(capsys.readouterr().out.split())  # the heading is folded at spaces to the terminal
    assert rc == 0 and "a net of widths 3-4-2, D = 2, kernel exp(-r**2/s**2)(s=0.7), activations softplus" in out
    assert "loss sse_half" in out and "Net(" not in out
    log = json.loads((tmp_path / "synthetic_gd.json").read_text())
    assert log["summary"]["settings"]["backtrack"] is True


def test_train_kernel_with_a_leading_minus_and_diabetes_widths(tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "--kernel",
                "-2*exp(-r**2)",
                "--widths",
                "2,3,1",
                "--method",
                "adam",
                "--iters",
                "3",
                "--quiet",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert "kernel -2*exp(-r**2)," in " ".join(capsys.readouterr().out.split())
    assert main(["train", "--task", "diabetes", "--widths", "3,4,1", "--quiet"]) == 2
    assert "--widths does not apply to --task diabetes" in capsys.readouterr().err


def test_train_that_ends_above_its_start_says_so(tmp_path, capsys):
    rc = main(
        [
            "train",
            "--widths",
            "2,3,1",
            "--dim",
            "2",
            "--kernel",
            "1+r**2",
            "--method",
            "gd",
            "--lr",
            "0.02",
            "--no-backtrack",
            "--iters",
            "10",
            "--quiet",
            "--out",
            str(tmp_path),
        ]
    )
    captured = capsys.readouterr()
    assert rc == 1 and "diverged" in captured.out and "loss increased" in captured.err
    rc = main(
        [
            "train",
            "--widths",
            "2,3,1",
            "--dim",
            "2",
            "--kernel",
            "1+r**2",
            "--method",
            "gd",
            "--lr",
            "0.02",
            "--iters",
            "10",
            "--quiet",
            "--out",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0 and "backtracked" in out


def test_report_derivation_of_the_users_network(tmp_path, capsys):
    assert (
        main(
            [
                "report",
                "--which",
                "derivation",
                "--widths",
                "2,2,1",
                "--dim",
                "2",
                "--kernel",
                "exp(-r**2/s**2)",
                "--param",
                "s=0.7",
                "--no-pdf",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    tex = (tmp_path / "derivation.tex").read_text()
    # the user's network, in words (the report prints no Python repr: issue 24)
    assert "widths 2-{}2-{}1, D = 2" in tex and "s=0.7" in tex and "Net(" not in tex


# -- formula claims report like check-grad (issue 13 item 3) --------------------------------------
CLAIMS_FILE = """
from dataclasses import replace

import numpy as np
from derivcheck.formula import Family, FormulaClaim

DOCUMENT = {"id": "t", "title": "test claims"}
FAM = Family(kind="spatial", layers=(2, 3), width=(1, 2), dim=(1, 2), batch=(1, 2), hidden=("tanh",),
             output=("identity",), loss=("mse",), bias=(False,), kernels=("exp(-r**2/s**2)",),
             kernel_params={"s": (0.5, 0.9)})
NEAR = Family(kind="spatial", layers=(2, 2), width=(1, 2), dim=(1, 2), batch=(1, 1), hidden=("tanh",),
              output=("identity",), loss=("mse",), bias=(False,), kernels=("exp(-r/s)",),
              kernel_params={"s": 0.7}, near=True)

def close(c, l):  # the true dW times (1 + 3e-7): wrong in the 7th digit
    return c.dW[l] * (1 + 3e-7)

def eps_dz(c, l):  # eq. (5) with (z_i - z_j) / (r + eps): a backward pass that adds eps to the distance
    out = np.zeros_like(c.Z[l])
    if l >= 1:
        G = c.dW[l] * c.dg[l] / (c.R[l] + 1e-6)
        out = out + c.Z[l] * G.sum(axis=1)[:, None] - G @ c.Z[l - 1]
    if l + 1 < c.L:
        G = c.dW[l + 1] * c.dg[l + 1] / (c.R[l + 1] + 1e-6)
        out = out + c.Z[l] * G.sum(axis=0)[:, None] - G.T @ c.Z[l + 1]
    return out

CLAIMS = [
    FormulaClaim("close", "dW", close, family=FAM),
    FormulaClaim("close-loose", "dW", close, family=FAM, rtol=1e-6),
    FormulaClaim("eps", "dZ", eps_dz, layers="all", family=NEAR, rtol=1e-3),
    FormulaClaim("eps-far", "dZ", eps_dz, layers="all", family=replace(NEAR, near=False), rtol=1e-3),
]
"""


def test_formula_claims_report_relative_error_digits_and_numbers(tmp_path, capsys):
    path = tmp_path / "t_claims.py"
    path.write_text(CLAIMS_FILE)
    out = tmp_path / "claims.json"
    assert main(["claims", str(path), "--cases", "40", "--no-prove", "--json", str(out)]) == 1
    results = {r["id"]: r for r in json.loads(out.read_text())["documents"][0]["results"]}
    close = results["close"]
    assert close["verdict"] == "false" and close["measure"] == "rel"
    assert isinstance(close["claimed"], float) and isinstance(close["true"], float)
    assert close["error"] == pytest.approx(3e-7, rel=1e-3) and close["tolerance"] > 1e-7
    a, b = close["printed"]["claimed"], close["printed"]["true"]
    assert a != b and len(a) >= 7  # enough digits to see the difference
    assert "relative error 3e-07 > tolerance" in close["evidence"]
    assert results["close-loose"]["verdict"] == "holds"  # its own tolerance, 1e-6
    # the eps is invisible at distances >= 0.01 (rtol 1e-3) and shows at a nearly coincident pair
    eps = results["eps"]
    assert eps["verdict"] == "false" and results["eps-far"]["verdict"] == "holds"
    Z = eps["counterexample"]["params"]["Z"]
    import numpy as np

    r = min(float(np.linalg.norm(np.subtract(z2, z1))) for z2 in Z[1] for z1 in Z[0])
    assert r < 1e-2


def test_readme_check_your_own_network_runs_as_written(tmp_path, monkeypatch, capsys):
    """Each command of the README section exits as its comment says (run where examples/ is, writing
    into a temporary folder)."""
    import re
    import shlex
    import shutil

    text = (ROOT / "README.md").read_text()
    start = text.index("## Check your own network")
    section = text[start : text.index("\n## ", start + 1)]
    shell = section.split("```sh\n")[1].split("```")[0]
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    commands = [line for line in shell.splitlines() if line.strip()]
    assert len(commands) >= 4
    for line in commands:
        command, _, comment = line.partition("#")
        argv = shlex.split(command)
        assert argv[0] == "derivcheck"
        assert main(argv[1:]) == int(re.search(r"exit (\d)", comment).group(1)), line
    assert (tmp_path / "my" / "results.json").exists() and (tmp_path / "my" / "derivation.tex").exists()


def test_audit_kernel_runs_engines_agree_on_the_users_network(capsys):
    assert main(["audit-kernel", "--net", NET, "--examples", "2", "--json"]) == 0
    audit = json.loads(capsys.readouterr().out)
    check = next(c for c in audit["checks"] if c["name"] == "engines_agree")
    assert check["verdict"] == "pass" and "cases of a net of widths 3-4-2, D = 2" in check["detail"]
    assert check["evidence"]["architecture"].startswith("widths 3-4-2, D = 2")
    assert "Net(" not in json.dumps(audit)
    assert audit["params"] == {"s": 0.7}


def test_verify_matrix_flags_do_not_mix_with_a_network(capsys):
    assert main(["verify", "--net", NET, "--drawn", "3"]) == 2
    assert "give --cases N" in capsys.readouterr().err


def test_check_grad_takes_a_kernel_with_a_leading_minus(capsys):
    # catalog_grads.correct hard-codes the gaussian kernel: parsed as typed, the other kernel is judged (exit 1)
    assert (
        main(
            [
                "check-grad",
                "catalog_grads:correct",
                "--widths",
                "2,2,1",
                "--dim",
                "2",
                "--kernel",
                "-2*exp(-r**2/w_s**2)",
                "--param",
                "w_s=0.8",
                "--bias",
                "--cases",
                "1",
                "--no-shrink",
            ]
        )
        == 1
    )
    assert "kernel -2*exp(-r**2/w_s**2)(w_s=0.8)" in " ".join(capsys.readouterr().out.split())
