"""`derivcheck train` on the model family (issue 16): free amplitudes theta trained beside the
coordinates, penalties in the objective, Newton-CG on the manual H v of the whole family."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import numpy as np
import pytest

from derivcheck import cli
from derivcheck import train as tr
from derivcheck.netspec import net_from_table, read_toml
from numeric import optim
from numeric.compare import tolerance
from numeric.flat import flatten
from numeric.manual import gradients
from tests.helpers import REPO, fits_80

PRESETS = REPO / "presets"
SEED = 2


def _net(name: str):
    return net_from_table(read_toml(PRESETS / f"{name}.toml")["network"], f"{name}.toml")


@pytest.mark.parametrize("preset", ["serrn_wiring", "bimt"])
def test_cli_trains_a_free_amplitude_preset_and_the_objective_decreases(preset, tmp_path, capsys):
    rc = cli.main(
        ["train", "--net", str(PRESETS / f"{preset}.toml"), "--method", "newton-cg", "--iters", "8"]
        + ["--seed", str(SEED), "--quiet", "--out", str(tmp_path)]
    )
    out, err = capsys.readouterr()
    assert rc == 0, err
    said = " ".join(out.split())  # the heading is folded at spaces to the terminal
    assert "free amplitudes, penalty " in said and "Net(" not in said
    assert "warning: penalty 'abs(w)" in err  # |w| r has no gradient where nodes meet: said, not refused
    assert all(fits_80(line) for line in err.splitlines())
    rows = list(csv.DictReader((tmp_path / "synthetic_newton-cg.csv").read_text().splitlines()))
    losses = [float(r["loss"]) for r in rows]
    assert len(losses) == 9 and losses[-1] < 0.5 * losses[0]
    assert all(b <= a for a, b in zip(losses, losses[1:], strict=False))  # trust region: never up
    rec = json.loads((tmp_path / "synthetic_newton-cg.json").read_text())
    assert rec["summary"]["n_hvp"] > 0 and rec["summary"]["final_loss"] == losses[-1]
    # the logged objective is J = data loss + the penalty, at the task's start (the preset's [data] batch)
    task = tr.make_task("synthetic", SEED, net=_net(preset), batch=read_toml(PRESETS / f"{preset}.toml")["data"]["batch"])
    J0 = gradients(task.net, task.params0, task.X, task.Y).loss
    L0 = gradients(replace(task.net, penalties=()), task.params0, task.X, task.Y).loss
    assert losses[0] == pytest.approx(J0, rel=tolerance(np.float64, "loss")) and abs(J0 - L0) > 1e-6 * abs(J0)


def test_notebook_preset_trains_with_its_penalty(tmp_path, capsys):
    rc = cli.main(
        ["train", "--net", str(PRESETS / "notebook_tanh_penalty.toml"), "--allow-nonsmooth-kernel"]
        + ["--method", "all", "--iters", "6", "--quiet", "--out", str(tmp_path)]
    )
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "penalty '(s*(r-q0))**2' has no gradient" in err
    for m in tr.METHODS:
        rec = json.loads((tmp_path / f"synthetic_{m}.json").read_text())
        assert rec["summary"]["final_loss"] < rec["summary"]["initial_loss"], m


@pytest.mark.parametrize("method", ["gd", "adam", "newton-cg"])
def test_every_method_moves_amplitudes_and_coordinates(method):
    task = tr.make_task("synthetic", SEED, net=_net("serrn_wiring"))
    assert task.params0.theta is not None and task.teacher is not None and task.teacher.theta is not None
    run_ = tr.train(task, method, iters=10)
    p0, p1 = task.params0, run_.params
    assert p1.theta is not None and p1.Z is not None and p0.Z is not None
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(p1.theta, p0.theta, strict=True)) > 1e-3
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(p1.Z, p0.Z, strict=True)) > 1e-3
    assert run_.result.loss < run_.result.history[0].loss


def test_net_problem_hvp_covers_the_amplitudes():
    """Newton-CG's H v on a free-amplitude net with a penalty: a central difference of the gradient
    along a direction that moves Z, theta and b together."""
    task = tr.make_task("synthetic", SEED, net=_net("bimt"), batch=16)
    problem, x0 = optim.net_problem(task.net, task.params0, task.X, task.Y)
    assert problem.n == x0.size == flatten(task.net, task.params0).size
    v = np.random.default_rng(SEED).standard_normal(problem.n)
    h = np.finfo(np.float64).eps ** (1 / 3)  # central differences: error ~ h^2 + eps / h
    fd = (problem.value_and_grad(x0 + h * v)[1] - problem.value_and_grad(x0 - h * v)[1]) / (2 * h)
    hv = problem.hvp(x0, v)
    assert np.linalg.norm(hv - fd) <= tolerance(np.float64, "fd") * np.linalg.norm(hv)


def test_nets_without_amplitudes_have_none():
    task = tr.make_task("synthetic", SEED, widths=(3, 4, 2), dim=2, batch=8)
    assert task.params0.theta is None and task.teacher is not None and task.teacher.theta is None
    assert tr.penalty_warnings(task.net) == []
