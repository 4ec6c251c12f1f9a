import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from derivcheck import cli, verify
from derivcheck.verify import cases as verify_cases
from derivcheck.verify import checks as verify_checks
from numeric import manual
from numeric.engines import ENGINES
from tests.helpers import REPO, fits_80

ARGS = dict(quick=True, seed=3, engines="manual,torch-cpu,torch-cuda,fd,taylor,hvp", drawn=1, only=None, cases=None)


def _run(tmp_path, **kw):
    args = SimpleNamespace(**{**ARGS, "out": str(tmp_path / "results.json"), **kw})
    code = verify.run(args)
    return code, json.loads((tmp_path / "results.json").read_text())


def test_quick_run_passes_and_documents_itself(tmp_path):
    code, res = _run(tmp_path)
    assert code == 0 and res["summary"]["verdict"] == "pass" and res["schema"] == verify.SCHEMA
    assert res["provenance"]["seed"] == 3 and "torch" in res["provenance"]["versions"]
    assert res["summary"]["cases"] == len(verify.matrix_cases(3, quick=True)) + 1
    assert set(res["table"]) >= {"manual", "torch-cpu", "fd"}
    for eng in ("manual", "torch-cpu"):
        assert res["table"][eng]["dZ"]["max_rel"] < 1e-12
        assert res["identities"][eng]["translation"]["pass"]
    if res["provenance"]["machine"]["cuda"] is None:  # no CUDA here: torch-cuda is "not run", never passing
        assert all("torch-cuda" in " ".join(c["skipped"]) for c in res["cases"])
        assert "torch-cuda" in res["summary"]["not_run"] and "torch-cuda" not in res["summary"]["engines"]
        assert "torch-cuda" not in res["table"]
        hvp_cases = [c for c in res["cases"] if "hvp" in c["errors"].get("manual", {})]
        assert hvp_cases and all("hvp torch-cuda: not run" in " ".join(c["skipped"]) for c in hvp_cases)
    else:  # the GPU engine ran, first order and H v, and agrees
        assert "torch-cuda" in res["table"] and not res["summary"]["not_run"]
        assert res["table"]["torch-cuda"]["dZ"]["max_rel"] < 1e-12
        assert res["table"]["torch-cuda"]["hvp"]["pass"]


def _no_cuda(monkeypatch):
    """Make torch-cuda unavailable, as on a machine without CUDA."""

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.mark.parametrize("engines", ["torch-cuda", "", " , ", "taylor"])
def test_no_verdict_without_evidence(engines, tmp_path, capsys, monkeypatch):
    _no_cuda(monkeypatch)
    out = tmp_path / "r.json"
    assert cli.main(["verify", "--quick", "--drawn", "0", "--engines", engines, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("derivcheck verify: error:") and "engine" in err[0]
    assert not out.exists()


def test_an_engine_that_cannot_run_is_not_run_not_passing(tmp_path, monkeypatch, capsys):
    _no_cuda(monkeypatch)
    code, res = _run(tmp_path, engines="manual,torch-cuda", only="m001", drawn=0)
    assert code == 0 and res["summary"]["checks"] > 0
    assert res["summary"]["engines"] == ["manual"] and "torch-cuda" in res["summary"]["not_run"]
    assert "not run: torch-cuda" in capsys.readouterr().err
    from derivcheck.report.cli import _verdict_line

    assert "NOT RUN: torch-cuda" in _verdict_line(res["summary"])
    assert _verdict_line({**res["summary"], "not_run": {}, "not_checked": {}}) == "ALL CHECKS PASS"
    # a check skipped on every case is no evidence either: never "ALL CHECKS PASS"
    unchecked = {**res["summary"], "not_run": {}, "not_checked": {"hvp": "loss not C2"}}
    assert _verdict_line(unchecked) == "PASS FOR THE CHECKS RUN (NOT RUN: hvp)"


def test_hvp_runs_on_every_float64_engine_cuda_included(tmp_path, monkeypatch):
    """H v on CUDA takes the same path as on the CPU: bind the torch-cuda entry to the CPU to run it here."""
    assert "torch-cuda" in verify_checks.HVP_ENGINES and "torch-cpu" in verify_checks.HVP_ENGINES
    monkeypatch.setitem(ENGINES, "torch-cuda", dataclasses.replace(ENGINES["torch-cuda"], device="cpu"))
    code, res = _run(tmp_path, engines="torch-cuda,hvp", drawn=0)
    assert code == 0
    assert res["table"]["torch-cuda"]["hvp"]["pass"] and res["table"]["torch-cuda"]["hvp"]["n"] > 0


def test_a_wrong_engine_fails_with_a_reproducing_command(tmp_path, monkeypatch):
    real = manual.gradients

    def broken(net, params, X, Y, *, dtype=np.float64, device="cpu"):
        g = real(net, params, X, Y, dtype=dtype, device=device)
        g.dZ[-1] = g.dZ[-1] * (1 + 1e-6)  # a 1e-6 relative error in the output layer's coordinates
        return g

    # the verification matrix runs engines from the one table: put the broken one there
    monkeypatch.setitem(ENGINES, "manual", dataclasses.replace(ENGINES["manual"], contract_gradients=broken))
    code, res = _run(tmp_path, engines="manual", drawn=0)
    assert code == 1 and res["summary"]["verdict"] == "fail"
    f = res["failures"][0]
    assert f["engine"] == "manual" and f["quantity"] == "dZ" and "layer 3" in f["message"]
    assert f["reproduce"].startswith("derivcheck verify --seed 3 --only m0")


def test_only_reruns_one_case(tmp_path):
    code, res = _run(tmp_path, only="m002", drawn=0, engines="manual")
    assert code == 0 and [c["id"] for c in res["cases"]] == ["m002"]


@pytest.mark.parametrize(
    "argv",
    [["verify", "--engines", "manual,abacus"], ["verify", "--seed", "-1"], ["verify", "--only", "nope", "--quick", "--drawn", "0"]],
)
def test_bad_input_exits_2_with_one_line(argv, tmp_path, capsys):
    assert cli.main(argv + ["--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) >= 1 and err[-1].startswith("derivcheck verify: error:")
    assert not (tmp_path / "r.json").exists()


def test_matrix_covers_every_kernel_activation_and_loss():
    full = verify.matrix_cases(0)
    assert len(full) == len(verify_cases.KERNELS) * len(verify_cases.ACTS) * len(verify_cases.LOSS_SPECS)
    quick = verify.matrix_cases(0, quick=True)
    for attr, names in (("kernel", verify_cases.KERNELS), ("hidden", verify_cases.ACTS), ("loss", verify_cases.LOSS_SPECS)):
        assert {getattr(c.net, attr) for c in quick} == set(names)
    # seeded: the same seed draws the same case
    assert np.array_equal(verify.matrix_cases(5)[7].params.Z[0], verify.matrix_cases(5)[7].params.Z[0])


def test_one_case_type_and_checks_are_not_engines():
    from numeric import draws

    assert verify.Case is draws.Case  # one case type: check-grad's, verify's and the strategies'
    c = verify.matrix_cases(0, quick=True)[0]
    assert (c.id, c.seed, c.kind) == ("m000", 0, "drawn") and "draw" not in verify.case_spec(c)
    # ENGINES is the engine table (numeric.engines); what --engines chooses from is CHECKS
    assert not hasattr(verify, "ENGINES") and verify.CHECKS[-3:] == ("fd", "taylor", "hvp")
    assert set(verify.CHECKS[:-3]) == set(ENGINES) - {"symbolic"}


NOTEBOOK = "presets/notebook_tanh_penalty.toml"


def _net_run(tmp_path, net, seed, engines, *extra):
    """verify --net as the command line parses it (every network flag at its default)."""
    import argparse

    p = argparse.ArgumentParser()
    verify.add_arguments(p)
    argv = ["--net", net, "--seed", str(seed), "--engines", engines, "--out", str(tmp_path / "results.json"), *extra]
    code = verify.run(p.parse_args(argv))
    return code, json.loads((tmp_path / "results.json").read_text())


@pytest.mark.parametrize("seed", [0, 3])
def test_near_pair_of_a_coned_net_takes_steps_small_against_the_separation(tmp_path, seed):
    """tanh(r) (g'(0) = 1) and (s (r - q0))^2 bend like 1/r at a pair 1e-3 apart: the default Taylor
    steps (up to 1e-2) failed the slope there (u1 finding 2); steps below 0.1 sep pass it, or the check
    is recorded as skipped with its reason, never passed silently."""
    code, res = _net_run(tmp_path, NOTEBOOK, seed, "manual,fd,taylor")
    assert code == 0, res["failures"]
    near = {c["id"]: c for c in res["cases"] if "near" in c["id"]}
    assert set(near) == {"a00-near-1e-3", "a01-near-1e-5", "a02-near-1e-7"}
    ran = 0
    for cid, c in near.items():
        sep = float(cid.rsplit("-", 2)[-2] + "-" + cid.rsplit("-", 1)[-1])
        skipped = " ".join(c["skipped"])
        if "taylor" in c:
            ran += 1
            assert c["taylor"]["slope"] > 1.9 and max(c["taylor"]["steps"]) <= 0.1 * sep * (1 + 1e-12)
        else:
            assert "taylor: the placed pair is" in skipped and "no gradient at r = 0" in skipped
        assert "fd" in c["errors"] or "fd: the placed pair is" in skipped
    assert ran >= (1 if seed == 0 else 0) and "fd" in near["a00-near-1e-3"]["errors"]


def test_scaled_taylor_steps_still_catch_a_wrong_gradient(tmp_path, monkeypatch):
    real = manual.gradients

    def broken(net, params, X, Y, *, dtype=np.float64, device="cpu"):
        g = real(net, params, X, Y, dtype=dtype, device=device)
        g.dZ[1] = g.dZ[1] * (1 + 1e-3)
        return g

    monkeypatch.setitem(ENGINES, "manual", dataclasses.replace(ENGINES["manual"], contract_gradients=broken))
    code, res = _net_run(tmp_path, NOTEBOOK, 0, "manual,taylor", "--only", "a00-near-1e-3")
    assert code == 1
    assert any(f["engine"] == "taylor" for f in res["failures"]), res["failures"]


def _without_penalty(tmp_path):
    """The notebook preset without its penalty (kernel tanh(r), g'(0) = 1: no gradient at coincidence)."""
    text = (REPO / NOTEBOOK).read_text()
    net = tmp_path / "nopen.toml"
    net.write_text(text[: text.index("[[network.penalty]]")] + text[text.index("[data]") :])
    return str(net)


def test_an_f32_refusal_at_a_near_pair_skips_that_engine_only(tmp_path):
    """The pair 1e-7 apart coincides once its coordinates (~1.35) are rounded to float32: manual-f32
    refuses it, rightly, and is skipped there with the reason; the float64 engines are still judged
    (u1 finding 3: the case was an "input" failure that dropped every engine's result)."""
    code, res = _net_run(tmp_path, _without_penalty(tmp_path), 7, "manual,manual-f32,torch-cpu", "--only", "a02-near-1e-7")
    assert code == 0 and res["summary"]["verdict"] == "pass", res["failures"]
    (case,) = res["cases"]
    assert {"manual", "torch-cpu"} <= set(case["errors"]) and "manual-f32" not in case["errors"]
    (why,) = [s for s in case["skipped"] if s.startswith("manual-f32:")]
    assert "rounded to float32 two nodes coincide" in why
    assert "node 2 of layer 3 and node 4 of layer 2 coincide" in why  # numbered from 1, like layers


def test_f32_is_judged_on_near_pairs_of_free_amplitude_nets(tmp_path):
    """The float32 ground truth at rounded inputs takes the amplitudes theta too (u1 finding 7: it was
    built without them, refused, and the refusal labelled "the pair coincides")."""
    net = tmp_path / "free.toml"
    net.write_text(
        '[network]\nkind = "spatial"\nwidths = [3, 4, 2]\ndim = 2\nkernel = "gaussian"\nhidden = "tanh"\n'
        'output = "identity"\nloss = "mse"\nbias = true\namplitudes = "free"\n'
    )
    code, res = _net_run(tmp_path, str(net), 1, "manual,manual-f32")
    assert code == 0, res["failures"]
    near = [c for c in res["cases"] if "near" in c["id"]]
    assert len(near) == 3
    for c in near:
        assert c["errors"]["manual-f32"]["dZ"]["pass"] and c["errors"]["manual-f32"]["dtheta"]["pass"]
        assert not [s for s in c["skipped"] if s.startswith("manual-f32")]


def test_checks_skipped_on_every_case_are_named_in_the_summary(tmp_path, capsys):
    """A kink in r (|r - 1/2|) leaves fd and Taylor without a meaning where their steps may cross it:
    skipped on every case, and the summary says so with the reason, in results.json and on the
    terminal (u1 finding 8a: it said only "0 failures")."""
    net = tmp_path / "kinked.toml"
    net.write_text('[network]\nwidths = [3, 4, 2]\ndim = 2\n[[network.penalty]]\nrho = "abs(r - 0.5)"\n')
    code, res = _net_run(tmp_path, str(net), 0, "manual,fd,taylor", "--cases", "2")
    assert code == 0
    why = "loss not C2: penalty 'abs(r - 0.5)' has a kink"
    assert res["summary"]["not_checked"] == {"fd": why, "taylor": why}
    err = capsys.readouterr().err
    assert f"never checked: fd, taylor ({why})" in err
    assert all(fits_80(line) for line in err.splitlines()), err
    code, res = _net_run(tmp_path, "presets/note.toml", 0, "manual,fd,taylor,hvp", "--cases", "2")
    assert code == 0 and res["summary"]["not_checked"] == {}
    assert "never checked" not in capsys.readouterr().err


def test_a_wiring_cost_is_checked_by_fd_taylor_and_hvp_away_from_w_0(tmp_path):
    """|w| r is C2 wherever no weight is 0: fd, Taylor and H v run at every case whose steps keep every
    weight's sign (slope 2), and a case where a step would cross w = 0 is skipped with that reason."""
    code, res = _net_run(tmp_path, "presets/serrn_wiring.toml", 0, "manual,fd,taylor,hvp", "--cases", "4")
    assert code == 0 and res["summary"]["not_checked"] == {}, res["summary"]
    slopes = [c["taylor"]["slope"] for c in res["cases"] if c.get("taylor") and c["taylor"]["slope"]]
    assert len(slopes) >= 4 and all(abs(s - 2) < 0.05 for s in slopes)
    assert res["table"]["fd"]["grad"]["pass"] and res["table"]["manual"]["hvp"]["pass"]
    for c in res["cases"]:
        for s in c["skipped"]:
            assert not s.startswith(("fd: loss not C2", "taylor: loss not C2")) or s.endswith("a step crosses w = 0")


def test_hvp_is_checked_on_nets_with_bias_bias_block_included(tmp_path, monkeypatch):
    """The H v direction covers every block of the flat layout, biases too (u1 finding 8b: nets with
    bias had no H v check at all); a wrong bias block of H v fails."""
    net = tmp_path / "bias.toml"
    net.write_text(
        '[network]\nkind = "spatial"\nwidths = [3, 4, 2]\ndim = 2\nkernel = "gaussian"\nhidden = "tanh"\n'
        'output = "identity"\nloss = "mse"\nbias = true\namplitudes = "free"\n'
    )
    code, res = _net_run(tmp_path, str(net), 0, "manual,torch-cpu,hvp", "--cases", "3")
    assert code == 0 and not res["summary"]["not_checked"]
    for eng in ("manual", "torch-cpu"):
        assert res["table"][eng]["hvp"]["pass"] and res["table"][eng]["hvp"]["n"] == len(res["cases"])
    real = ENGINES["manual"].contract_hvp

    def broken(net, params, X, Y, V, **kw):
        out = real(net, params, X, Y, V, **kw)
        out[-1] = out[-1] * (1 + 1e-6)  # the last block: the output layer's biases
        return out

    monkeypatch.setitem(ENGINES, "manual", dataclasses.replace(ENGINES["manual"], contract_hvp=broken))
    code, res = _net_run(tmp_path, str(net), 0, "manual,hvp", "--cases", "1")
    assert code == 1 and {(f["engine"], f["quantity"]) for f in res["failures"]} == {("manual", "hvp")}


def test_verify_net_seeds_from_the_spec_data_seed_like_check_grad(tmp_path, capsys):
    """verify --net without --seed takes the spec's [data] seed, as check-grad does (u1 finding 11);
    --seed still wins, and without a spec file the seed is 0."""
    import argparse

    text = (REPO / "presets/note.toml").read_text().replace("seed = 0", "seed = 5")
    net = tmp_path / "seeded.toml"
    net.write_text(text)
    p = argparse.ArgumentParser()
    verify.add_arguments(p)
    base = ["--engines", "manual", "--out", str(tmp_path / "r.json")]
    assert verify.run(p.parse_args(["--net", str(net), "--cases", "1", *base])) == 0
    res = json.loads((tmp_path / "r.json").read_text())
    assert res["provenance"]["seed"] == 5 and {c["seed"] for c in res["cases"]} == {5}
    assert "seed 5" in capsys.readouterr().err
    assert verify.run(p.parse_args(["--net", str(net), "--cases", "1", "--seed", "2", *base])) == 0
    assert json.loads((tmp_path / "r.json").read_text())["provenance"]["seed"] == 2
    assert verify.run(p.parse_args(["--quick", "--drawn", "0", "--only", "m000", *base])) == 0
    assert json.loads((tmp_path / "r.json").read_text())["provenance"]["seed"] == 0


def test_hvp_on_an_abs_w_penalty_is_skipped_only_at_its_kink():
    """|w| r is C2 wherever every weight is nonzero: H v is checked there, and skipped with the reason
    at a case where a weight is 0 (the Hessian of |w| does not exist at w = 0)."""
    from derivcheck.verify.steps import hvp_kink as _hvp_kink
    from derive import Net, Params

    net = Net((2, 2, 1), dim=2, kernel="1", amplitudes="free", penalties=("abs(w)*r",))
    rng = np.random.default_rng(0)
    Z = [rng.normal(size=(n, 2)) for n in net.widths]
    theta = [rng.normal(size=(2, 2)), rng.normal(size=(1, 2))]
    assert _hvp_kink(net, Params(Z=Z, theta=theta)) is None
    theta[1][0, 1] = 0.0
    assert "a weight is 0.0e+00, at it" in _hvp_kink(net, Params(Z=Z, theta=theta))
    rough = Net((2, 2, 1), dim=2, penalties=("abs(r - 1)",))  # a kink in r: never checked
    assert "has a kink" in _hvp_kink(rough, Params(Z=Z))


def test_an_mlp_l1_penalty_is_checked_away_from_its_kink():
    """An MLP's L1 term |w| on W (issue 23, item 3) is C2 wherever no weight is 0, as |w| r on a spatial
    net: H v, finite differences and Taylor run there, and H v is skipped with the reason at a 0 weight."""
    from derivcheck.verify.steps import hvp_kink as _hvp_kink
    from derivcheck.verify.steps import only_w_kink
    from derive import MLP, Params

    net = MLP((2, 2, 1), activations="tanh", penalties=("abs(w)", {"rho": "w**2", "scale": 0.1}))
    assert only_w_kink(net) and not only_w_kink(MLP((2, 2, 1), activations="relu", penalties=("abs(w)",)))
    rng = np.random.default_rng(0)
    W, b = [rng.normal(size=(2, 2)), rng.normal(size=(1, 2))], [rng.normal(size=2), rng.normal(size=1)]
    assert _hvp_kink(net, Params(W=W, b=b)) is None
    W[1][0, 1] = 0.0
    assert "a weight is 0.0e+00, at it" in _hvp_kink(net, Params(W=W, b=b))


@pytest.mark.parametrize("rho", ["1/r", "0.01/r**2"])
def test_a_repulsive_penalty_near_pair_is_not_a_false_taylor_failure(tmp_path, rho):
    """1/r at a pair 1e-7 apart: J ~ 1e7 and the pair's distance carries a rounding error of eps |z| / r,
    so J's floor is ~1e-2, not eps J (u2 finding N1: a fitted slope of 1.24 failed the case). The steps
    are sized against that floor: Taylor runs at 1e-3 and 1e-5 (slope 2), and at 1e-7 it is skipped
    with its reason, never failed and never passed."""
    net = tmp_path / "rep.toml"
    net.write_text(f'[network]\nwidths = [3, 4, 2]\ndim = 2\n[[network.penalty]]\nrho = "{rho}"\n')
    code, res = _net_run(tmp_path, str(net), 0, "manual,taylor", "--cases", "1")
    assert code == 0, res["failures"]
    near = {c["id"]: c for c in res["cases"] if "near" in c["id"]}
    for cid in ("a00-near-1e-3", "a01-near-1e-5"):
        assert abs(near[cid]["taylor"]["slope"] - 2) < 0.05
    assert any("leave under a decade above rounding" in s for s in near["a02-near-1e-7"]["skipped"])


def test_the_tables_show_dtheta_where_an_engine_compared_it():
    """Free amplitudes: dtheta is compared and shown as a column (terminal and report); other nets keep
    the seven columns."""
    from derivcheck.verify.summary import shown_quantities

    cell = {"max_rel": 1e-16, "pass": True}
    free = {"manual": {"loss": cell, "dZ": cell, "dtheta": cell}}
    assert shown_quantities(free) == ["loss", "dW", "dZ", "dtheta", "db", "dX", "grad", "hvp"]
    assert "dtheta" not in shown_quantities({"manual": {"loss": cell, "dZ": cell}})


def test_only_keeps_the_whole_runs_results(tmp_path, monkeypatch, capsys):
    """Issue 24: `verify --only m229` (a printed reproduce command) replaced reports/build/results.json
    with a one-case file, so the next `report` described one case."""
    monkeypatch.chdir(tmp_path)
    whole = tmp_path / "reports" / "build" / "results.json"
    whole.parent.mkdir(parents=True)
    whole.write_text('{"schema": "derivcheck.results/1", "cases": ["the whole run"]}')
    assert cli.main(["verify", "--quick", "--only", "m000", "--engines", "manual"]) == 0, capsys.readouterr().err
    assert "the whole run" in whole.read_text()
    one = json.loads((tmp_path / "reports" / "build" / "only-m000.json").read_text())
    assert [c["id"] for c in one["cases"]] == ["m000"]


def test_readme_counts_the_matrix_as_it_is():
    """Issue 24: the README said 318 cases (--quick: 7 + 6) where runs had 360 and 14."""
    from tests.helpers import REPO

    k, a, lo = len(verify_cases.KERNELS), len(verify_cases.ACTS), len(verify_cases.LOSS_SPECS)
    full, quick = len(verify.matrix_cases(0)), len(verify.matrix_cases(0, quick=True))
    from derivcheck.verify.cli import DRAWN as drawn
    from derivcheck.verify.cli import DRAWN_QUICK as drawn_quick

    text = " ".join((REPO / "README.md").read_text().split())
    assert f"({k} x {a} x {lo} = {full} nets) + {drawn} hypothesis-drawn nets ({full + drawn} cases;" in text
    assert f"`--quick`: {quick} + {drawn_quick} = {quick + drawn_quick})" in text


def test_cases_without_a_network_is_refused_not_ignored(tmp_path, capsys, monkeypatch):
    """A new user's finding (issue 24): `verify --cases 1000000000`, the README's example of a refused run,
    ran the whole library matrix, exit 0: --cases counts a network's cases and was silently ignored."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["verify", "--cases", "5", "--out", "r.json"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--cases counts a network's drawn cases" in err and "--drawn N" in err
    assert not (tmp_path / "r.json").exists()


def test_a_networks_heading_names_it_in_words(tmp_path, capsys, monkeypatch):
    """verify --net's heading named the net by its repr, `Net(widths=(3, 4, 2), D=2, ...` (issue 24)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    assert cli.main(["verify", "--widths", "2,2", "--dim", "2", "--cases", "1", "--engines", "manual", "--out", "r.json"]) == 0
    out, err = capsys.readouterr()
    assert "Net(" not in out + err and "(2, 2)" not in out + err
    assert "cases of a net of widths 2-2, D = 2, kernel gaussian" in " ".join(err.split())


def test_a_failure_is_printed_in_words_folded_with_its_command_whole(tmp_path, capsys, monkeypatch):
    """The FAIL line named the net by its repr (`FAIL m000 Net(widths=(2, 2, 2), D=3, ...`) and rich folded
    it, leaving blanks at the ends of lines (issue 24): now the net in words, every line within 80 columns
    with no trailing blank, and the reproducing command whole on its own line."""
    monkeypatch.setenv("COLUMNS", "80")
    real = manual.gradients

    def broken(net, params, X, Y, *, dtype=np.float64, device="cpu"):
        g = real(net, params, X, Y, dtype=dtype, device=device)
        g.dZ[-1] = g.dZ[-1] * (1 + 1e-6)
        return g

    monkeypatch.setitem(ENGINES, "manual", dataclasses.replace(ENGINES["manual"], contract_gradients=broken))
    code, res = _run(tmp_path, engines="manual", drawn=0, only="m000")
    err = capsys.readouterr().err
    assert code == 1 and "Net(" not in err and "(2, 2, 2)" not in err, err
    lines = err.splitlines()
    assert all(fits_80(ln) and ln == ln.rstrip() for ln in lines), err
    assert "FAIL m000 on a net of widths 2-2-2, D = 3, kernel" in " ".join(err.split())
    assert lines[0].startswith("derivcheck verify: 1 case, seed 3") and any(ln.startswith("1 case, ") for ln in lines)
    cmd = res["failures"][0]["reproduce"]
    assert any(ln.strip() in (f"reproduce: {cmd}", cmd) for ln in lines), err  # whole, on one line
