"""`derivcheck train --device` (issue 17, item 2): the torch engine's objective on a device, the
optimisers keeping their state there, the same losses as the manual engine, and a missing GPU as one
line and exit 2. device="cpu" runs the code path a CUDA run takes; CUDA itself where present."""

import json

import numpy as np
import pytest
import torch

from derivcheck import cli
from derivcheck import train as tr
from numeric import optim
from numeric.compare import rel_error, tolerance
from tests.helpers import fits_80

SEED = 3
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(scope="module")
def small():
    return tr.synthetic_task(SEED, widths=(3, 5, 2), dim=2, batch=16, bias=True)


@pytest.mark.parametrize("device", DEVICES)
def test_torch_problem_is_the_manual_objective_kept_on_the_device(small, device):
    manual, x0 = optim.net_problem(small.net, small.params0, small.X, small.Y)
    tp, t0 = optim.torch_problem(small.net, small.params0, small.X, small.Y, device=device)
    assert torch.is_tensor(t0) and t0.device.type == device
    np.testing.assert_array_equal(optim.to_host(t0), x0)
    f, g = tp.value_and_grad(t0)
    fm, gm = manual.value_and_grad(x0)
    assert torch.is_tensor(g) and g.device.type == device and isinstance(f, float)
    assert f == pytest.approx(fm, rel=tolerance(np.float64, "loss"))
    assert rel_error(optim.to_host(g), gm) <= tolerance(np.float64, "dZ")
    v = np.random.default_rng(0).standard_normal(x0.size)
    hv = tp.hvp(t0, v)
    assert torch.is_tensor(hv) and hv.device.type == device
    assert rel_error(optim.to_host(hv), manual.hvp(x0, v)) <= tolerance(np.float64, "hvp")
    assert (tp.n_grad, tp.n_hvp, tp.n) == (1, 1, x0.size)


@pytest.mark.parametrize("device", DEVICES)
def test_optimisers_keep_their_state_on_the_device(small, device):
    tp, t0 = optim.torch_problem(small.net, small.params0, small.X, small.Y, device=device)
    for res in (
        optim.gd(tp, t0, 0.5, 3, keep_trajectory=True),
        optim.adam(tp, t0, 0.01, 3),
        optim.newton_cg(tp, t0, 2, cg_maxiter=3),
    ):
        assert torch.is_tensor(res.x) and res.x.device.type == device, res.method
        assert all(isinstance(r.loss, float) and isinstance(r.grad_norm, float) for r in res.history)
    assert all(torch.is_tensor(x) for x in res.trajectory or []) or res.trajectory is None


@pytest.mark.parametrize("method", tr.METHODS)
def test_torch_training_gives_the_manual_losses(small, method):
    iters = {"gd": 8, "adam": 8, "newton-cg": 4}[method]
    ref = tr.train(small, method, iters=iters, keep_trajectory=True)
    for device in DEVICES:
        got = tr.train(small, method, iters=iters, keep_trajectory=True, device=device)
        assert [h.iteration for h in got.result.history] == [h.iteration for h in ref.result.history]
        assert [h.n_hvp for h in got.result.history] == [h.n_hvp for h in ref.result.history]
        for a, b in zip(got.result.history, ref.result.history):
            assert a.loss == pytest.approx(b.loss, rel=1e3 * tolerance(np.float64, "loss"))  # iterations compound
        # back on the host at the end: the logs and the report read the same NumPy parameters
        assert isinstance(got.result.x, np.ndarray) and got.result.settings["device"] == device
        assert all(isinstance(x, np.ndarray) for x in got.result.trajectory)
        np.testing.assert_allclose(got.result.x, ref.result.x, rtol=1e-8, atol=1e-10)
        assert (got.lr is None) == (ref.lr is None)
        if ref.lr is not None:
            assert got.lr == pytest.approx(ref.lr, rel=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_armijo_backtracking_on_the_device_halves_like_the_host(small, device):
    # a step far too long: gd's Armijo backtracking (main's) must halve it on tensors as on NumPy
    manual, x0 = optim.net_problem(small.net, small.params0, small.X, small.Y)
    tp, t0 = optim.torch_problem(small.net, small.params0, small.X, small.Y, device=device)
    ref = optim.gd(manual, x0, 1e3, 4, backtrack=True)
    got = optim.gd(tp, t0, 1e3, 4, backtrack=True)
    assert ref.settings["backtracks"] > 0 and got.settings["backtracks"] == ref.settings["backtracks"]
    assert [h.rate for h in got.history] == [h.rate for h in ref.history]
    assert [h.cost for h in got.history] == [h.cost for h in ref.history]
    assert all(b.loss < a.loss for a, b in zip(got.history, got.history[1:]))  # every step descends
    assert torch.is_tensor(got.x) and got.x.device.type == device
    np.testing.assert_allclose(optim.to_host(got.x), ref.x, rtol=1e-8, atol=1e-10)


def test_cli_device_cpu_trains_and_logs_like_the_manual_path(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(tmp_path)  # short log paths: a path is one word, never folded
    args = ["train", "--widths", "3,4,2", "--dim", "2", "--method", "adam", "--iters", "5", "--quiet"]
    assert cli.main([*args, "--out", "m"]) == 0
    first = capsys.readouterr().out
    assert cli.main([*args, "--device", "cpu", "--out", "t"]) == 0
    second = capsys.readouterr().out
    m, t = (json.loads((tmp_path / d / "synthetic_adam.json").read_text()) for d in "mt")
    # the same heading, then one result (folded to 80 columns) per run
    head = first.split("     adam: loss")[0]
    assert head.startswith("derivcheck train: task synthetic") and second.startswith(head)
    assert first.count("adam: loss") == second.count("adam: loss") == 1
    assert all(fits_80(line) for line in (first + second).splitlines())
    np.testing.assert_allclose([r["loss"] for r in t["history"]], [r["loss"] for r in m["history"]], rtol=1e-10)
    assert set(t) == set(m) and set(t["history"][0]) == set(m["history"][0])
    assert t["summary"]["settings"]["device"] == "cpu" and "device" not in m["summary"]["settings"]


def test_cli_device_cuda_without_cuda_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    rc = cli.main(["train", "--device", "cuda", "--quiet", "--out", str(tmp_path)])
    out = capsys.readouterr()
    assert rc == 2 and out.out == ""
    assert len(out.err.strip().splitlines()) == 1 and "torch.cuda is not available" in out.err
    assert not any(tmp_path.iterdir())
