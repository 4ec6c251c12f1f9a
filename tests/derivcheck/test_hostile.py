"""Every case of issue 14 ("Never wrong, never stuck"), one row each: a verdict or one line (exit 2),
never a traceback, a hang, a false green or a silent NaN."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from derive import Net, Params, SpecError, symbolic
from derive.errors import PrecisionWarning
from numeric import autograd, manual
from tests.hostile import BASE_CLAIMS, assert_verdict_or_one_line

# --------------------------------------------------------------------------------------- CLI numbers, kernels
# (argv, expected exit code, a phrase the one line must contain)
CLI_CASES = [
    (["audit-kernel", "sqrt(-1)*r"], 2, "complex-valued"),
    (["audit-kernel", "(-r)**(1/3)"], 2, "complex-valued"),
    (["audit-kernel", "gaussian", "--param", "r=1"], 2, "distance variable"),
    (["audit-kernel", "exp(-r**2/s**2)", "--param", "s=1", "--param", "r=1"], 2, "distance variable"),
    (["audit-kernel", "gaussian", "--examples", "-5"], 2, "examples"),
    (["audit-kernel", "gaussian", "--budget", "-5"], 2, "budget"),
    (["audit-kernel", "gaussian", "--budget", "0"], 2, "budget"),
    (["audit-kernel", "gaussian", "--budget", "nan"], 2, "budget"),
    (["train", "--radius", "-1", "--quiet"], 2, "--radius"),
    (["train", "--radius", "nan", "--quiet"], 2, "--radius"),
    (["train", "--seed", "-1", "--quiet"], 2, "--seed"),
    (["train", "--damping", "inf", "--quiet"], 2, "--damping"),
    (["train", "--widths", "100000,100000,2", "--quiet"], 2, "memory budget"),
    (
        ["train", "--kernel", "gaussian", "--param", "s=1e-5", "--iters", "2", "--method", "gd", "--quiet"],
        2,
        "no positive eigenvalue",
    ),
    (["verify", "--engines", "", "--quick", "--drawn", "0", "--out", "r.json"], 2, "no engine"),
    (["verify", "--engines", "taylor", "--quick", "--drawn", "0", "--out", "r.json"], 2, "compares nothing"),
    (["verify", "--out", "", "--quick", "--drawn", "0"], 2, "--out is empty"),
    (["verify", "--out", ".", "--quick", "--drawn", "0"], 2, "not a regular file"),
    (["verify", "--budget", "-5", "--quick", "--drawn", "0", "--out", "r.json"], 2, "budget"),
]


@pytest.mark.parametrize(("argv", "code", "phrase"), CLI_CASES, ids=[" ".join(c[0])[:40] for c in CLI_CASES])
def test_cli_case(argv, code, phrase, tmp_path):
    got, err = assert_verdict_or_one_line(argv, tmp_path)
    assert got == code and phrase in err


def test_verify_torch_cuda_without_cuda_is_refused(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    argv = ["verify", "--engines", "torch-cuda", "--quick", "--drawn", "0", "--out", "r.json"]
    assert assert_verdict_or_one_line(argv, tmp_path)[0] == 2


@pytest.mark.parametrize("text", ['{"schema": "derivcheck.results/1", "summary": {}}', "[1]"])
def test_report_with_missing_keys(text, tmp_path):
    (tmp_path / "r.json").write_text(text)
    argv = ["report", "--which", "verification", "--results", "r.json", "--out", "rep"]
    code, err = assert_verdict_or_one_line(argv, tmp_path, allowed={"rep"})
    assert code == 2 and ("lacks the key" in err or "not a results object" in err)


# ------------------------------------------------------------------------------------------------ claims files
def _edit(old: str, new: str) -> str:
    assert old in BASE_CLAIMS
    return BASE_CLAIMS.replace(old, new, 1)


CLAIMS_CASES = {
    "non-UTF-8 bytes": (BASE_CLAIMS.encode() + b"\n# \xff\xfe\n", "UTF-8"),
    "5000-deep array": (_edit("x = [[2.0]]", "x = " + "[" * 5000 + "]" * 5000), "deep"),
    "widths = 5": (_edit("widths = [1, 1]", "widths = 5"), "widths"),
    'layer = "2"': (_edit("layer = 2", 'layer = "2"'), "layer"),
    'tolerance = "abc"': (_edit('title = "one', 'tolerance = "abc"\ntitle = "one'), "tolerance"),
    "tolerance = nan": (_edit('title = "one', 'tolerance = nan\ntitle = "one'), "tolerance"),
    'learning_rate = "abc"': (_edit("y = [[1.0]]", 'y = [[1.0]]\nlearning_rate = "abc"'), "learning_rate"),
    "leaky_relu(alpha=1e999)": (_edit('["sigmoid"]', '["leaky_relu(alpha=1e999)"]'), "finite"),
    "index = [-1]": (_edit("layer = 2", "layer = 2\nindex = [-1]"), "index"),
    "index = [0.5]": (_edit("layer = 2", "layer = 2\nindex = [0.5]"), "index"),
    "input_layer = 1.9": (_edit("input_layer = 1", "input_layer = 1.9"), "input_layer"),
    "dim = 2.7": (_edit('kind = "mlp"', 'kind = "spatial"\ndim = 2.7'), "dim"),
    "unknown claim key": (_edit('value = "7"', 'value = "7"\nvalu = "3"'), "unknown key"),
    "unknown document key": (_edit("[document]", '[document]\ntitel = "x"'), "unknown key"),
    "unknown data key": (_edit("y = [[1.0]]", "y = [[1.0]]\nz = 3"), "unknown key"),
    "unknown table": (BASE_CLAIMS + "\n[extra]\na = 1\n", "unknown key"),
    'value = "1e400"': (_edit('value = "7"', 'value = "1e400"'), "float64 range"),
    'value = "-5e309"': (_edit('value = "7"', 'value = "-5e309"'), "float64 range"),
    'value = "7e-400"': (_edit('value = "7"', 'value = "7e-400"'), "float64 range"),
    'value = "7_0"': (_edit('value = "7"', 'value = "7_0"'), "not a number"),
    "full-width digits": (_edit('value = "7"', 'value = "\uff17"'), "not a number"),
    "x = [[1e400]]": (_edit("x = [[2.0]]", "x = [[1e400]]"), "NaN or Inf"),
    "ragged x": (_edit("x = [[2.0]]", "x = [[2.0], [1.0, 2.0]]"), "x"),
    "document = 5": (_edit("[document]\n", "document = 5\n[nothing]\n"), "document"),
    "rounding_allowance = -3": (_edit('title = "one', 'rounding_allowance = -3\ntitle = "one'), "rounding_allowance"),
}


@pytest.mark.parametrize("name", list(CLAIMS_CASES))
def test_malformed_claims_file_is_one_line(name, tmp_path):
    text, phrase = CLAIMS_CASES[name]
    path = tmp_path / "c.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    code, err = assert_verdict_or_one_line(["claims", str(path)], tmp_path)
    assert code == 2 and phrase in err


def test_well_formed_claims_file_gets_a_verdict(tmp_path):
    (tmp_path / "c.toml").write_text(BASE_CLAIMS)
    assert assert_verdict_or_one_line(["claims", "c.toml"], tmp_path)[0] in (0, 1)


def test_claims_with_tiny_kernel_scale_finishes(tmp_path):
    text = _edit('kind = "mlp"', 'kind = "spatial"\ndim = 1\nkernel = "gaussian"\nkernel_params = {s = 1e-5}')
    text = text.replace('activations = ["sigmoid"]', 'hidden = "sigmoid"\noutput = "sigmoid"')
    text = text.replace("weights = [[[3.0]]]", "coordinates = [[[0.0]], [[1e-5]]]")
    (tmp_path / "c.toml").write_text(text)
    assert assert_verdict_or_one_line(["claims", "c.toml"], tmp_path)[0] in (0, 1)


@pytest.mark.parametrize(
    ("source", "phrase"),
    [
        ("CLAIMS = [\n", "line 1: syntax error"),
        ("x = 1\nraise RuntimeError('boom')\n", "line 2: importing it raised RuntimeError"),
        ("CLAIMS = 5\n", "CLAIMS is int"),
    ],
)
def test_broken_formula_module_is_one_line_naming_file_and_line(source, phrase, tmp_path):
    (tmp_path / "f.py").write_text(source)
    argv = ["claims", str(tmp_path / "f.py")]
    code, err = assert_verdict_or_one_line(argv, tmp_path, allowed={"__pycache__"})
    assert code == 2 and f"f.py{',' if 'line' in phrase else ':'} {phrase}" in err


# ------------------------------------------------------------------------------------------------------ arrays
NET = Net((2, 2, 1), kernel="gaussian")


def _case(seed=0):
    rng = np.random.default_rng(seed)
    Z = [rng.normal(size=(n, NET.dim)) for n in NET.widths]
    return Z, rng.normal(size=(2, 2)), rng.normal(size=(2, 1))


@pytest.mark.parametrize("engine", [manual.gradients, autograd.gradients, symbolic.gradients])
@pytest.mark.parametrize(
    ("what", "phrase"),
    [("complex X", "complex"), ("complex Z", "complex"), ("NaN X", "NaN"), ("string Y", "not a numeric array|not a number type")],
)
def test_bad_arrays_are_refused(engine, what, phrase):
    Z, X, Y = _case()
    if what == "complex X":
        X = X + 1j
    elif what == "complex Z":
        Z[1] = Z[1] + 0.5j
    elif what == "NaN X":
        X[0, 0] = np.nan
    else:
        Y = np.array([["a"], ["b"]])
    with pytest.raises(SpecError, match=phrase):
        engine(NET, Params(Z=Z), X, Y)


@pytest.mark.parametrize("engine", [manual.gradients, autograd.gradients])
def test_integer_dtype_is_refused(engine):
    Z, X, Y = _case()
    with pytest.raises(SpecError, match="float"):
        engine(NET, Params(Z=Z), X, Y, dtype=np.int64)


def test_integer_arrays_are_converted_exactly():
    Z, X, Y = _case()
    g = manual.gradients(NET, Params(Z=Z), np.round(X).astype(np.int64), Y)
    assert np.isfinite(g.loss)


@pytest.mark.parametrize(
    ("net", "scale_x", "scale_y"),
    [
        (NET, 1.0, 1e300),
        (Net((2, 2, 1), kernel="gaussian", hidden="identity"), 1e200, 1.0),
    ],
)
def test_symbolic_ground_truth_never_returns_inf(net, scale_x, scale_y):
    Z, X, Y = _case()
    with pytest.raises(SpecError, match="overflows float64"):
        symbolic.gradients(net, Params(Z=Z), X * scale_x, Y * 0 + scale_y)


def test_torch_engine_never_returns_nan():
    Z, X, Y = _case()
    Zb = [z * 1e154 for z in Z]
    g = manual.gradients(NET, Params(Z=Zb), X, Y)  # the manual engine gets these right (zeros)
    assert all(np.all(np.isfinite(z)) for z in g.dZ)
    with pytest.raises(SpecError, match="not finite"):
        autograd.gradients(NET, Params(Z=Zb), X, Y)


def _near(sep):
    Z, X, Y = _case()
    Z[0][0] = 0.0
    Z[1][0] = 0.0
    Z[1][0, 0] = sep
    return Z, X, Y


@pytest.mark.parametrize("engine", [manual.gradients, autograd.gradients])
def test_nodes_closer_than_float64_can_square_warn(engine):
    Z, X, Y = _near(1e-160)
    with pytest.warns(PrecisionWarning, match="1e-160 apart"):
        engine(NET, Params(Z=Z), X, Y)


@pytest.mark.parametrize("engine", [manual.gradients, autograd.gradients])
def test_nonzero_distance_is_never_called_coincident(engine):
    Z, X, Y = _near(1e-170)
    with pytest.raises(SpecError) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        engine(Net((2, 2, 1), kernel="exponential"), Params(Z=Z), X, Y)
    assert "1e-170 apart (not coincident)" in str(info.value) and "r = 0" not in str(info.value)


def test_piecewise_constant_kernel_has_zero_coordinate_gradient():
    net = Net((2, 2, 1), kernel="where(r < 10, 1, 0)")
    Z, X, Y = _case()
    g = autograd.gradients(net, Params(Z=Z), X, Y)
    assert all(np.all(z == 0) for z in g.dZ)
    hv = autograd.hvp(net, Params(Z=Z), X, Y, [np.ones_like(z) for z in Z])
    assert all(np.all(v == 0) for v in hv)


# ------------------------------------------------------------------------------------------------------ budgets
def test_tiny_kernel_scale_compiles_within_the_budget():
    """s = 1e-5 made sp.factor expand exp(-10^10 r^2) (40 s, 4.4 GB); now phi stays simplified."""
    net = Net((2, 3, 1), kernel="gaussian", kernel_params={"s": 1e-5})
    Z, X, Y = _case()
    Z = [np.random.default_rng(1).normal(scale=1e-5, size=(n, net.dim)) for n in net.widths]
    g = manual.gradients(net, Params(Z=Z), X, Y)
    assert np.isfinite(g.loss) and net.g.phi_note is None


def test_a_step_over_the_budget_is_undecided_not_a_hang():
    import sympy as sp

    from derive.step_limits import attempt, too_big

    x = sp.Symbol("x")
    huge = sp.Add(*[sp.exp(x * k) for k in range(500)])
    assert too_big(huge)
    value, why = attempt(sp.factor, huge)
    assert value is None and "too large" in why


# ------------------------------------------------------------------ issue 22: refused before starting (derivcheck.guard)
_W500 = ",".join(["2"] * 500)
_GRAD = "examples/my_grad.py:grad"
_MYNET = ["--net", "examples/my_net.toml"]
SPECS = {
    "data5.toml": "data = 5\n[network]\nwidths = [2, 3, 1]\n",
    "data12.toml": "data = [1, 2]\n[network]\nwidths = [2, 3, 1]\n",
    "bce.toml": '[network]\nwidths = [2, 3, 1]\nloss = "bce"\noutput = "identity"\n',
    "inf.toml": "[network]\nwidths = [2, 3, 1]\n[data]\ncoordinate_range = [-inf, inf]\n",
}
# (argv, exit code, a phrase the one line must contain); run from a folder holding SPECS and examples/
GUARD_CASES = [
    (["verify", "--widths", "2,3,1", "--cases", "1000000000", "--out", "r.json"], 2, "--max-seconds"),
    (["verify", "--widths", "2,3,1", "--cases", "0", "--out", "r.json"], 2, "--cases 0 must be"),
    (["verify", "--widths", "3000,3000", "--out", "r.json"], 2, "over the 30 min budget"),
    (["verify", "--widths", _W500, "--out", "r.json"], 2, "500 layers"),
    (["verify", "--drawn", "1000000000", "--out", "r.json"], 2, "--drawn"),
    (["check-grad", _GRAD, *_MYNET, "--cases", "1000000000"], 2, "--max-seconds"),
    (["check-grad", _GRAD, *_MYNET, "--widths", "3000,3000"], 2, "over the 30 min budget"),
    (["check-grad", _GRAD, *_MYNET, "--seed", "-1"], 2, "seed -1"),
    (["check-grad", _GRAD, *_MYNET, "--family", "L=2..3,N=1..99999999999999999999"], 2, "--family"),
    (["train", "--widths", "3000,3000", "--quiet"], 2, "--max-seconds"),
    (["train", "--iters", "100000000", "--quiet"], 2, "--iters"),
    (["claims", "--cases", "0"], 2, "--cases 0"),
    (["claims", "--cases", "100000"], 2, "--max-seconds"),
    (["audit-kernel", "gaussian", "--examples", "1000000"], 2, "--examples"),
    (["verify", "--max-seconds", "0", "--quick", "--drawn", "0", "--out", "r.json"], 2, "--max-seconds"),
    (["verify", "--net", "fifo", "--out", "r.json"], 2, "FIFO"),
    (["verify", "--net", "/dev/zero", "--out", "r.json"], 2, "not a regular file"),
    (["claims", "fifo"], 2, "FIFO"),
    (["claims", "--json", "adir"], 2, "--json"),
    (["verify", "--quick", "--drawn", "0", "--out", "/proc/r.json"], 2, "cannot be written"),
    (["verify", "--quick", "--drawn", "0", "--out", "/sys/r.json"], 2, "cannot be written"),
    (["verify", "--quick", "--drawn", "0", "--out", "a" * 300 + ".json"], 2, "over the file system's"),
    (["claims", "--errata", "/sys/errata"], 2, "--errata"),
    (["train", "--quiet", "--out", "/sys/train"], 2, "--out"),
    (["audit-kernel", "gaussian", "--report", "/proc/a"], 2, "--report"),
    (["report", "--out", "/sys/r"], 2, "--out"),
    *[
        ([verb, "--net", spec, *extra], 2, "not a table")
        for spec in ("data5.toml", "data12.toml")
        for verb, *extra in (["verify", "--out", "r.json"], ["check-grad", _GRAD], ["train", "--quiet"], ["audit-kernel"])
    ],
    (["verify", "--net", "bce.toml", "--out", "r.json"], 2, "loss bce"),
    (["verify", "--net", "inf.toml", "--out", "r.json"], 2, "coordinate_range"),
    (["verify", "--widths", "2,3,1", "--kernel", "exponential", "--param", "s=1e-300", "--out", "r.json"], 2, "s = 1e-300"),
    (["verify", "--widths", "2,3,1", "--kernel", "exponential", "--param", "s=5e-324", "--out", "r.json"], 2, "s = 5e-324"),
    (["audit-kernel", "exponential", "--param", "s=1e-300"], 2, "s = 1e-300"),
    (["audit-kernel", "exponential", "--param", "s=5e-324"], 2, "s = 5e-324"),
    (["verify", "--widths", "2,3,1", "--hidden", "leaky_relu(alpha=1e308)", "--out", "r.json"], 2, "alpha"),
    (["verify", "--budget", "1e308", "--widths", "2,3,1", "--out", "r.json"], 2, "--budget"),
    (["train", "--lr", "1e300", "--no-backtrack", "--method", "gd", "--iters", "3", "--quiet"], 1, "diverged"),
]


@pytest.mark.parametrize(("argv", "code", "phrase"), GUARD_CASES, ids=[" ".join(c[0])[:50] for c in GUARD_CASES])
def test_refused_before_starting(argv, code, phrase, tmp_path):
    import shutil
    from pathlib import Path

    for name, text in SPECS.items():
        (tmp_path / name).write_text(text)
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "adir").mkdir()
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples", tmp_path / "examples")
    allowed = {"reports", "r.json"} if code == 1 else set()
    got, err = assert_verdict_or_one_line(argv, tmp_path, allowed=allowed)
    assert got == code and phrase in err, err[-500:]
    if code == 1:  # the divergence is one error line
        assert len([ln for ln in err.splitlines() if "error:" in ln]) == 1
