"""The one network spec: TOML [network]/[data] tables and the same fields as flags; round trips and
every bad input as a one-line SpecError."""

import argparse
import shlex

import pytest

from derivcheck.netspec import DataOptions, add_net_arguments, load_net, net_flags, net_from_args
from derive import MLP, Net, SpecError
from tests.helpers import REPO

ROOT = REPO


def _parse(argv):
    p = argparse.ArgumentParser()
    add_net_arguments(p)
    return net_from_args(p.parse_args(argv))


def _write(tmp_path, text, name="net.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_example_spec_loads():
    spec = load_net(ROOT / "examples/my_net.toml")
    net = spec.net
    assert isinstance(net, Net) and net.widths == (3, 4, 2) and net.dim == 2
    assert net.kernel == "exp(-r**2/s**2)" and dict(net.kernel_params) == {"s": 0.7}
    assert (net.hidden, net.output, net.loss, net.bias) == ("tanh", "identity", "mse", False)
    assert spec.data == DataOptions(batch=3, coordinate_range=(-1.5, 1.5), input_range=(-2.0, 2.0), seed=0)
    assert spec.flags == f"--net {ROOT / 'examples/my_net.toml'}"


@pytest.mark.parametrize(
    "net",
    [
        Net(
            (3, 5, 2),
            dim=2,
            kernel="exp(-r**2/s**2)",
            kernel_params={"s": 0.7},
            hidden="softplus",
            output="sigmoid",
            loss="bce",
            bias=True,
        ),
        Net((2, 1), dim=3, kernel="wendland_c2", kernel_params={"s": 1.5}, hidden="leaky_relu(alpha=0.1)", loss="huber(delta=0.5)"),
        MLP((2, 3, 1), activations=("relu", "sigmoid"), loss="sse_half", bias=False),
        MLP((2, 3, 1), activations=("relu", "sigmoid"), loss="bce", loss_reduction="batch", relu_grad_at_zero=1),
        Net((2, 2), dim=1, hidden="relu", loss_reduction="sum", relu_grad_at_zero=0.5),
        MLP((2, 3, 1), penalties=("w**2", {"rho": "abs(w)", "scale": 0.01, "reduce": "mean"})),
        MLP((2, 3, 3, 1), activations="tanh", penalties=({"rho": "w**2", "scale": 0.5, "layers": [2, 4]},)),
    ],
)
def test_flags_round_trip(net):
    assert _parse(shlex.split(net_flags(net))).net == net


def test_file_and_flags_round_trip(tmp_path):
    path = _write(
        tmp_path,
        '[network]\nkind = "mlp"\nwidths = [2, 2]\nactivations = ["tanh"]\nbias = true\n'
        "[data]\nbatch = 5\nweight_range = [-1, 1]\nseed = 7\n",
    )
    spec = load_net(path)
    assert spec.net == MLP((2, 2), activations=("tanh",), bias=True)
    assert spec.data.batch == 5 and spec.data.weight_range == (-1.0, 1.0) and spec.data.seed == 7
    assert _parse(["--net", str(path)]).net == spec.net


def test_conventions_are_spec_keys_and_flags_of_both_kinds(tmp_path):
    from derivcheck.netspec import net_table
    from derivcheck.report.nets import parse_describe, row_text

    path = _write(tmp_path, '[network]\nkind = "mlp"\nwidths = [2, 2]\nloss_reduction = "batch"\nrelu_grad_at_zero = 1\n')
    net = load_net(path).net
    assert (net.loss_reduction, net.relu_grad_at_zero) == ("batch", 1.0) and net.objective.divisor(4, 2) == 4
    assert net_table(net)["loss_reduction"] == "batch" and net_table(net)["relu_grad_at_zero"] == 1.0
    spatial = _parse(["--net", str(ROOT / "examples/my_net.toml"), "--loss-reduction", "sum", "--relu-grad-at-zero", "0.5"]).net
    assert spatial.objective.divisor(3, 2) == 1 and spatial.relu_grad_at_zero == 0.5
    assert "--loss-reduction sum --relu-grad-at-zero 0.5" in net_flags(spatial)
    # the reports' net description says them; a net without them is described as before
    assert "loss_reduction=sum, relu_grad_at_zero=0.5" in spatial.describe()
    cells = row_text(parse_describe(spatial.describe()))
    assert cells[4] == "mse (sum)" and cells[3].endswith("ReLU'(0) = 0.5")
    plain = load_net(ROOT / "examples/my_net.toml").net
    assert "loss_reduction" not in net_table(plain) and "reduction" not in plain.describe()
    assert row_text(net_table(plain))[4] == "mse"
    with pytest.raises(SpecError, match="loss_reduction 'avg' is unknown"):
        load_net(_write(tmp_path, '[network]\nwidths = [2, 2]\nloss_reduction = "avg"\n', "bad.toml"))
    with pytest.raises(SpecError, match="relu_grad_at_zero is 2.0; it must be a number in \\[0, 1\\]"):
        _parse(["--widths", "2,2", "--relu-grad-at-zero", "2"])


MLP_DECAY = """[network]
kind = "mlp"
widths = [3, 4, 2]
activations = ["tanh", "sigmoid"]
loss = "sse_half"
loss_reduction = "batch"

[[network.penalty]]
rho = "w**2"
scale = 0.01

[[network.penalty]]
rho = "abs(w)"
scale = 0.001
reduce = "mean"
layers = [2]
"""


def test_mlp_penalty_tables_and_flags(tmp_path):
    """[[network.penalty]] tables and the --penalty* flags build an MLP's penalties on W (issue 23, item 3);
    the table, the flags and the reports' cells carry them back; verify runs every engine on the file."""
    import json
    from dataclasses import replace

    from derivcheck import cli
    from derivcheck.netspec import net_table
    from derivcheck.report.nets import parse_describe, row_text

    path = _write(tmp_path, MLP_DECAY)
    net = load_net(path).net
    assert isinstance(net, MLP) and [(p.rho, p.scale, p.reduce, p.layers) for p in net.penalties] == [
        ("w**2", 0.01, "sum", None),
        ("abs(w)", 0.001, "mean", (2,)),
    ]
    flags = ["--kind", "mlp", "--widths", "3,4,2", "--activations", "tanh,sigmoid", "--loss", "sse_half"]
    flags += ["--loss-reduction", "batch", "--penalty", "w**2", "--penalty", "abs(w)", "--penalty-scale", "0.01"]
    flags += ["--penalty-scale", "0.001", "--penalty-reduce", "sum", "--penalty-reduce", "mean"]
    flags += ["--penalty-layers", "2,3", "--penalty-layers", "2"]
    every = replace(net.penalties[0], layers=(2, 3))  # the flags name every layer where the file names none
    assert _parse(flags).net == replace(net, penalties=(every, net.penalties[1]))
    assert net_table(net)["penalty"][1] == {"rho": "abs(w)", "params": {}, "scale": 0.001, "reduce": "mean", "layers": [2]}
    assert "--penalty='abs(w)' --penalty-scale 0.001 --penalty-reduce mean" in net_flags(net)
    assert row_text(net_table(net))[7] == "0.01 sum w**2; 0.001 mean abs(w)"
    assert row_text(parse_describe(net.describe()))[7] == "0.01*sum(w**2); 0.001*mean(abs(w)) layers [2]"
    assert row_text(net_table(MLP((2, 1))))[7] == "--"  # an MLP without penalties: as before
    out = tmp_path / "results.json"
    assert cli.main(["verify", "--net", str(path), "--cases", "3", "--engines", "manual,torch-cpu,fd", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["cases"][0]["spec"]["penalty"] == net_table(net)["penalty"]
    assert results["summary"]["failures"] == 0 and results["summary"]["checks"] > 3 * 5


@pytest.mark.parametrize("how", ["file", "flags"])
def test_a_penalty_in_r_on_an_mlp_exits_2_naming_the_fix(tmp_path, capsys, how):
    from derivcheck import cli

    if how == "file":
        path = _write(tmp_path, MLP_DECAY.replace('rho = "w**2"', 'rho = "abs(w)*r"'))
        argv = ["--net", str(path)]
    else:
        argv = ["--kind", "mlp", "--widths", "3,2", "--penalty", "abs(w)*r"]
    assert cli.main(["verify", *argv, "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert "penalty 'abs(w)*r' uses the distance r, and an MLP (kind = \"mlp\") has no coordinates" in err
    assert 'write rho in w alone (weight decay "w**2", L1 "abs(w)")' in err
    assert not (tmp_path / "r.json").exists()


def test_flags_override_the_file():
    spec = _parse(["--net", str(ROOT / "examples/my_net.toml"), "--widths", "2,2,1", "--param", "s=1.5", "--bias"])
    assert spec.net.widths == (2, 2, 1) and dict(spec.net.kernel_params) == {"s": 1.5} and spec.net.bias
    assert spec.net.kernel == "exp(-r**2/s**2)" and spec.data.batch == 3
    assert _parse(shlex.split(spec.flags)).net == spec.net


def test_param_names_may_contain_underscores():
    net = _parse(["--widths", "2,1", "--kernel", "cosine_cutoff", "--param", "rc=1.5"]).net
    assert dict(net.kernel_params) == {"rc": 1.5}
    with pytest.raises(SpecError, match="w_max"):  # parsed as a name, then refused as unused
        _parse(["--widths", "2,1", "--kernel", "exp(-r**2/s**2)", "--param", "s=1", "--param", "w_max=2"])


@pytest.mark.parametrize(
    "text,message",
    [
        ("[network]\nwidhts = [2, 1]\n", "unknown key 'widhts'; did you mean 'widths'"),
        ('[network]\nwidths = "2,1"\n', "widths = '2,1' has the wrong type; write widths as a list"),
        ('[network]\nwidths = [2, 1]\nbias = "yes"\n', "bias = 'yes' has the wrong type"),
        ("[network]\nwidths = [2, 1]\ndim = 1.5\n", "dim = 1.5 has the wrong type"),
        ('[network]\nwidths = [2, 1]\nactivations = ["tanh"]\n', "'activations' does not apply to kind = \"spatial\""),
        ('[network]\nkind = "mlp"\nwidths = [2, 1]\nkernel = "gaussian"\n', "'kernel' does not apply to kind = \"mlp\""),
        ('[network]\nkind = "conv"\nwidths = [2, 1]\n', "kind = 'conv' is unknown"),
        ("[network]\ndim = 2\n", "has no 'widths'"),
        ("[network]\nwidths = [2, 0]\n", "net.toml: \\[network\\]: width of layer 2 is 0"),
        ('[network]\nwidths = [2, 1]\nkernel = "exp(-r**2/s**2)"\n', "needs a value for s; pass --param s=VALUE"),
        (
            '[network]\nwidths = [2, 1]\nkernel = "exp(-r**2/s**2)"\nkernel_params = { s = 1, t = 2 }\n',
            "parameter t is not used by kernel",
        ),
        (
            '[network]\nwidths = [2, 1]\nkernel = "gaussian"\nkernel_params = { s = "wide" }\n',
            "kernel_params.s = 'wide' is not a number",
        ),
        ("[network]\nwidths = [2, 1]\nkernel = \"__import__('os')\"\n", "underscores are not allowed"),
        ("[network]\nwidths = [2, 1]\n[data]\nbatch = 0\n", "batch = 0 must be >= 1"),
        ("[network]\nwidths = [2, 1]\n[data]\ninput_range = [2, 1]\n", "input_range = \\[2, 1\\] is not a range"),
        ("[network]\nwidths = [2, 1]\n[data]\nrows = 3\n", "\\[data\\] has unknown key 'rows'"),
        ("[network]\nwidths = [2, 1]\n[claims]\n", "the top level has unknown key 'claims'"),
        ("[data]\nbatch = 2\n", "has no \\[network\\] table"),
        ("[network\nwidths = [2, 1]\n", "not valid TOML"),
    ],
)
def test_bad_spec_is_one_line_spec_error(tmp_path, text, message):
    with pytest.raises(SpecError, match=message) as info:
        load_net(_write(tmp_path, text))
    assert "\n" not in str(info.value) and "; " in str(info.value)  # what, then the fix


@pytest.mark.parametrize(
    "argv,message",
    [
        ([], "no network given"),
        (
            ["--widths", "2,1", "--kernel", "exp(-r**2/s**2)"],
            "kernel 'exp\\(-r\\*\\*2/s\\*\\*2\\)' needs a value for s; pass --param s=",
        ),
        (["--widths", "2,1", "--param", "t=1"], "kernel 'gaussian' has no parameter 't'"),
        (["--widths", "2,1", "--kernel", "exp(-r/c)", "--param", "c=1", "--param", "s=2"], "parameter s is not used"),
        (["--net", "/no/such/file.toml"], "cannot read /no/such/file.toml"),
        (["--widths", "2,1", "--kind", "mlp", "--hidden", "tanh"], "'hidden' does not apply to kind = \"mlp\""),
    ],
)
def test_bad_flags_are_one_line_spec_errors(argv, message):
    with pytest.raises(SpecError, match=message) as info:
        _parse(argv)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("argv", [["--widths", "3,x"], ["--widths", "2,1", "--param", "s"], ["--param", "s=wide"]])
def test_malformed_flag_values_are_usage_errors(argv):
    with pytest.raises(SystemExit) as info:
        _parse(argv)
    assert info.value.code == 2


def test_claims_files_use_the_same_loader(tmp_path):
    from derivcheck.claims.file import load_worked

    body = (
        '[network]\nkind = "mlp"\nwidths = [1, 1]\nactivations = ["sigmoid"]\nweights = [[[3.0]]]\nbiases = [[1.0]]\n'
        'lossy = "mse"\n[data]\nx = [[2.0]]\ny = [[1.0]]\n'
    )
    with pytest.raises(SpecError, match="unknown key 'lossy'; did you mean 'loss'"):
        load_worked(_write(tmp_path, body))
    wf = load_worked(_write(tmp_path, body.replace('lossy = "mse"\n', "")))
    assert wf.net == MLP((1, 1), activations=("sigmoid",), loss="sse_half", bias=True)
