"""derivcheck train: the evidence checks of issue 8 on real training runs, the kernel refusal, the CLI,
the logs and the report."""

import csv
import json

import numpy as np
import pytest

from derivcheck import cli
from derivcheck import train as tr
from derivcheck.latex import tex_available
from derive import SpecError
from numeric import optim
from numeric.manual import hessian
from tests.helpers import fits_80

SEED = 3  # printed by every failure through the test id; the tasks draw everything from it


@pytest.fixture(scope="module")
def small():
    """A small synthetic task (fast enough to take lambda_max at every iterate)."""
    return tr.synthetic_task(SEED, widths=(3, 5, 2), dim=2, batch=32)


@pytest.fixture(scope="module")
def small_bias():
    return tr.synthetic_task(SEED, widths=(3, 5, 2), dim=3, batch=32, bias=True)


def test_power_iteration_agrees_with_the_full_hessian(small):
    problem, x0 = optim.net_problem(small.net, small.params0, small.X, small.Y)
    lam = optim.top_eigenvalue(lambda v: problem.hvp(x0, v), problem.n, iters=2000, rtol=1e-12)
    H = hessian(small.net, small.params0, small.X, small.Y)
    assert lam == pytest.approx(np.linalg.eigvalsh((H + H.T) / 2)[-1], rel=1e-6)


def test_descent_lemma_along_the_whole_gd_trajectory(small):
    """(a) With eta below 2 / lambda_max at every iterate (power iteration on the manual HVP), the loss
    strictly decreases at every step.

    eta = 1 / lambda_max(H(x_0)) alone does not guarantee the premise: this start is flat (lambda_max
    0.09) and one step lands where lambda_max is 2.1. So eta is lowered to 1 / (the largest lambda_max
    seen on the trajectory) until the premise holds at every iterate, and only then is descent asserted.
    """
    problem, _ = optim.net_problem(small.net, small.params0, small.X, small.Y)
    lr, premise = None, False
    for _ in range(6):
        run = tr.train(small, "gd", iters=40, lr=lr, keep_trajectory=True)
        lams = [
            optim.top_eigenvalue(lambda v, x=x: problem.hvp(x, v), problem.n, iters=300, rtol=1e-9) for x in run.result.trajectory
        ]
        if run.lr < 2 / max(lams):
            premise = True
            break
        lr = 1 / max(lams)
    assert premise, f"no step size below 2/lambda_max along its own trajectory (seed {SEED})"
    losses = [h.loss for h in run.result.history]
    bad = [k for k in range(1, len(losses)) if not losses[k] < losses[k - 1]]
    assert not bad, f"loss did not decrease at steps {bad} with eta {run.lr:.4g} < 2/{max(lams):.4g} (seed {SEED})"
    assert losses[-1] < 0.5 * losses[0]


def test_auto_step_is_one_over_lambda_max_at_the_start(small):
    run = tr.train(small, "gd", iters=1)
    H = hessian(small.net, small.params0, small.X, small.Y)
    assert run.lr == pytest.approx(1 / run.lambda_max0)
    assert run.lambda_max0 == pytest.approx(np.linalg.eigvalsh((H + H.T) / 2)[-1], rel=1e-4)


@pytest.mark.parametrize("which", ["small", "small_bias"])
def test_rigid_motion_invariants_along_gd(which, request):
    """(b) sum_i dL/dz_i = 0 and M = sum_i z_i (dL/dz_i)^T symmetric at every iterate, so the centroid of
    all nodes never moves under GD (see numeric.optim.gd)."""
    task = request.getfixturevalue(which)
    run = tr.train(task, "gd", iters=30, keep_trajectory=True)
    problem, _ = optim.net_problem(task.net, task.params0, task.X, task.Y)
    c0 = optim.node_centroid(task.net, run.result.trajectory[0])
    eps = np.finfo(float).eps
    for x in run.result.trajectory:
        _, g = problem.value_and_grad(x)
        scale = np.abs(g).max() * len(g)
        t_res, r_res = optim.rigid_residuals(task.net, x, g)
        assert t_res <= 64 * eps * scale
        assert r_res <= 64 * eps * scale * np.abs(x).max()
        drift = np.linalg.norm(optim.node_centroid(task.net, x) - c0)
        assert drift <= 1e3 * eps * max(1.0, np.abs(x).max())
    checks = tr.trajectory_checks(run)
    assert checks["centroid_drift"] <= 1e3 * eps * checks["coordinate_scale"]


def test_centroid_check_detects_motion_adam_and_newton(small):
    """The same measurement moves under Adam (per-coordinate scaling), and does not under Newton-CG
    (Krylov steps are orthogonal to the translations): the check can fail."""
    adam = tr.trajectory_checks(tr.train(small, "adam", iters=30, keep_trajectory=True))
    newton = tr.trajectory_checks(tr.train(small, "newton-cg", iters=10, keep_trajectory=True))
    assert adam["centroid_drift"] > 1e-4
    assert newton["centroid_drift"] <= 1e3 * np.finfo(float).eps * newton["coordinate_scale"]
    assert newton["loss_increases"] == 0


def test_newton_cg_beats_gd_at_equal_cost_on_the_synthetic_task():
    """(c) On the default synthetic task (the one the CLI and the report use), Newton-CG reaches a lower
    loss than GD with the same number of HVP-equivalent evaluations (gd gets at least as many)."""
    runs = tr.compare(tr.synthetic_task(0), newton_iters=40)
    nt, gd = runs["newton-cg"].result, runs["gd"].result
    assert gd.history[-1].cost <= nt.history[-1].cost
    assert gd.history[-1].cost >= nt.history[-1].cost - 1
    assert nt.loss < gd.loss, f"Newton-CG {nt.loss:.3g} vs GD {gd.loss:.3g} at cost {nt.history[-1].cost}"


def test_nonsmooth_kernel_is_refused_with_the_reason():
    task = tr.synthetic_task(0, widths=(2, 3, 1), dim=2, batch=8, kernel="exponential")
    with pytest.raises(SpecError, match=r"gradient_at_coincidence.*g'\(0\+\) = -1.*--allow-nonsmooth-kernel"):
        tr.train(task, "gd", iters=2)
    run = tr.train(task, "newton-cg", iters=2, allow_nonsmooth_kernel=True)
    assert run.warnings and "g'(0+) = -1" in run.warnings[0]


def test_cli_refuses_nonsmooth_kernel(capsys):
    assert cli.main(["train", "--kernel", "exponential", "--widths", "2,3,1", "--quiet"]) == 2
    assert "allow-nonsmooth-kernel" in capsys.readouterr().err


def test_cli_newton_cg_writes_logs(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(tmp_path)  # a short log path: a path is one word, never folded
    rc = cli.main(
        [
            "train",
            "--method",
            "newton-cg",
            "--widths",
            "3,5,2",
            "--dim",
            "2",
            "--iters",
            "8",
            "--seed",
            "5",
            "--quiet",
            "--out",
            ".",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0 and "seed 5" in out
    # the heading and the result line are folded at spaces to 80 columns, their content whole
    assert all(fits_80(line) for line in out.splitlines()) and len(out.splitlines()) > 2
    words = out.split()
    assert out.startswith("derivcheck train: task synthetic") and "a net of widths 3-5-2, D = 2," in " ".join(words)
    assert "Net(" not in out and "(3, 5, 2)" not in out  # the net in words, as every verb names it (issue 24)
    i = words.index("newton-cg:")
    assert words[i + 1 : i + 2] == ["loss"] and "->" in words and "HVPs" in words and "stop:" in words
    assert words[-2:] == ["log", "synthetic_newton-cg.csv"]
    rows = list(csv.DictReader((tmp_path / "synthetic_newton-cg.csv").read_text().splitlines()))
    assert [int(r["iteration"]) for r in rows] == list(range(9))
    losses = [float(r["loss"]) for r in rows]
    assert all(b <= a for a, b in zip(losses, losses[1:], strict=False)) and losses[-1] < losses[0]
    rec = json.loads((tmp_path / "synthetic_newton-cg.json").read_text())
    assert rec["provenance"]["seed"] == 5 and rec["summary"]["final_loss"] == losses[-1]
    assert rec["summary"]["n_hvp"] == int(rows[-1]["n_hvp"]) > 0
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temp files


def test_cli_all_methods_share_the_budget(tmp_path, capsys):
    rc = cli.main(
        [
            "train",
            "--method",
            "all",
            "--widths",
            "3,5,2",
            "--dim",
            "2",
            "--iters",
            "5",
            "--quiet",
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 0
    costs = {m: json.loads((tmp_path / f"synthetic_{m}.json").read_text())["summary"]["cost"] for m in tr.METHODS}
    # with --iters all three run 5 iterations unless the Newton-CG budget stops them first
    assert costs["gd"] <= costs["newton-cg"] and costs["adam"] <= costs["newton-cg"]


def test_bad_inputs_are_spec_errors(small, tmp_path):
    with pytest.raises(SpecError, match="unknown method"):
        tr.train(small, "sgd")
    with pytest.raises(SpecError, match="learning rate"):
        tr.train(small, "gd", lr=float("nan"))
    with pytest.raises(SpecError, match="unknown task"):
        tr.make_task("mnist")
    run = tr.train(small, "gd", iters=1)
    with pytest.raises(SpecError, match="neither .csv nor .json"):
        tr.write_log(run, tmp_path / "log.txt")
    assert cli.main(["train", "--widths", "3,x", "--quiet"]) == 2


def test_diabetes_task_trains():
    task = tr.diabetes_task(0)
    assert task.X.shape == (442, 10) and task.Y.shape == (442, 1)
    np.testing.assert_allclose(task.Y.std(), 1.0)
    run = tr.train(task, "newton-cg", iters=5)
    assert run.result.loss < run.result.history[0].loss


def test_training_report(tmp_path):
    tex, pdf = tr.training_report(tmp_path, newton_iters=6, tasks=("synthetic",), compile=tex_available())
    text = tex.read_text()
    rec = json.loads((tmp_path / "training.json").read_text())
    wins = rec["tasks"]["synthetic"]["newton_cg_wins"]
    assert ("reached a lower loss" in text) == wins and ("did \\textbf{not}" in text) == (not wins)
    for fig in ("curves", "layout", "spectrum"):
        assert (tmp_path / f"training_synthetic_{fig}.png").stat().st_size > 1000
    spec = rec["tasks"]["synthetic"]["spectrum"]
    assert spec["n_translations"] == 3 and spec["n_rigid_marked"] >= 3  # translations are exact null modes
    if tex_available():
        assert pdf is not None and pdf.stat().st_size > 10000


SPEC_WITH_DATA = """
[network]
widths = [3, 4, 2]
dim = 2

[data]
seed = 3
batch = 5
input_range = [-0.5, 0.5]
coordinate_range = [0.0, 1.0]
"""


def _task(tmp_path, *flags, spec=SPEC_WITH_DATA):
    from derivcheck.train.cli import task_from_args

    (tmp_path / "net.toml").write_text(spec)
    args = cli.build_parser("train")[0].parse_args(["train", "--net", str(tmp_path / "net.toml"), *flags])
    task, _ = task_from_args(args)
    return task, args


def test_train_net_reads_the_spec_data_table(tmp_path):
    """`train --net FILE` trains on the file's [data]: seed 3 and batch 5 (it used seed 0 and 128 inputs),
    inputs and coordinates (teacher's and student's) uniform in its ranges."""
    task, args = _task(tmp_path)
    assert args.seed == 3 and task.seed == 3 and task.X.shape == (5, 3)
    assert np.all((-0.5 <= task.X) & (task.X <= 0.5))
    assert task.teacher is not None
    for Z in (*task.teacher.Z, *task.params0.Z):
        assert np.all((Z >= 0.0) & (Z <= 1.0))
    again, _ = _task(tmp_path)
    assert np.array_equal(again.X, task.X)  # the seed reproduces the draws


def test_train_flags_override_the_spec_data_and_no_data_keeps_the_defaults(tmp_path):
    task, args = _task(tmp_path, "--seed", "7")
    assert args.seed == 7 and task.seed == 7 and task.X.shape == (5, 3)
    plain, args = _task(tmp_path, spec=SPEC_WITH_DATA.split("[data]")[0])
    assert args.seed == 0 and plain.X.shape == (128, 3)  # DataOptions' batch 3 is for test cases, not training
    assert np.abs(plain.X).max() > 0.5  # standard normal inputs


def test_train_diabetes_names_the_data_keys_it_cannot_use(tmp_path, capsys):
    spec = SPEC_WITH_DATA.replace("widths = [3, 4, 2]", "widths = [10, 4, 1]")
    task, args = _task(tmp_path, "--task", "diabetes", spec=spec)
    assert args.seed == 3 and task.X.shape == (442, 10)
    assert np.all((task.params0.Z[0] >= 0.0) & (task.params0.Z[0] <= 1.0))  # the start's coordinates
    err = " ".join(capsys.readouterr().err.split())
    assert "note: [data] batch, input_range of" in err and "the diabetes task's data are fixed" in err


def test_diabetes_heading_names_the_net_in_words(tmp_path, capsys, monkeypatch):
    """The diabetes task's heading said 'net (10, 8, 1)' beside the net's repr (issue 24)."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--task", "diabetes", "--method", "gd", "--iters", "1", "--quiet", "--out", "."]) == 0
    out = capsys.readouterr().out
    assert "(10, 8, 1)" not in out and "Net(" not in out and "a net of widths 10-8-1" in " ".join(out.split())
