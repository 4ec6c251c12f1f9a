"""Issue 22: check-grad draws B = 1 and B >= 2 whatever the spec's [data] batch says. Gradient code as
written in the wild, right at one batch size only, fails (exit 1) with the counterexample's B named;
before, every case had the spec's batch and it passed."""

import re

import pytest

import derivcheck
from derivcheck import cli
from derivcheck.netspec import load_net
from tests.helpers import REPO

USER = """
import numpy as np

S = 0.7  # examples/my_net.toml: exp(-r^2/s^2), tanh hidden, identity output, mse, no bias


def _grad(Z, X, Y, squeeze=False, mean=False):
    L = len(Z)
    a, h, W, dz = [X], [X], [None], [None]
    for l in range(1, L):
        d = Z[l][:, None, :] - Z[l - 1][None, :, :]
        W.append(np.exp(-(d**2).sum(-1) / S**2))
        dz.append(d)
        h.append(a[-1] @ W[l].T)
        a.append(np.tanh(h[l]) if l < L - 1 else h[l])
    B = np.squeeze(X).shape[0] if squeeze else X.shape[0]  # squeezed: N_1 "rows" when B = 1
    n = B * Y.shape[1]
    loss = ((a[-1] - Y) ** 2).sum() / n
    dA = 2 * (a[-1] - Y) / n
    dZ = [np.zeros_like(z) for z in Z]
    for l in range(L - 1, 0, -1):
        delta = dA / np.cosh(h[l]) ** 2 if l < L - 1 else dA
        if mean:  # per-example outer products, averaged over the batch (the sum belongs here)
            dW = np.mean(delta[:, :, None] * a[l - 1][:, None, :], axis=0)
        else:
            dW = delta.T @ a[l - 1]
        dA = delta @ W[l]
        G = (dW * (-2 / S**2) * W[l])[:, :, None] * dz[l]
        dZ[l] += G.sum(axis=1)
        dZ[l - 1] -= G.sum(axis=0)
    return {"loss": loss, "dZ": dZ}


def grad(Z, X, Y):
    return _grad(Z, X, Y)


def grad_squeeze(Z, X, Y):
    return _grad(Z, X, Y, squeeze=True)


def grad_mean(Z, X, Y):
    return _grad(Z, X, Y, mean=True)
"""


@pytest.fixture
def user(tmp_path):
    path = tmp_path / "user_batch.py"
    path.write_text(USER)
    spec1 = tmp_path / "batch1.toml"
    spec1.write_text((REPO / "examples/my_net.toml").read_text().replace("batch = 3", "batch = 1"))
    return path, {3: str(REPO / "examples/my_net.toml"), 1: str(spec1)}


def _check(capsys, path, func, spec):
    code = cli.main(["check-grad", f"{path}:{func}", "--net", spec, "--cases", "3"])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("spec_batch", [3, 1])
def test_correct_code_passes_at_every_batch_size(user, capsys, spec_batch):
    path, specs = user
    code, out = _check(capsys, path, "grad", specs[spec_batch])
    assert code == 0, out
    # 3 drawn + 3 near + coincident + saturated at the spec's batch, and one drawn case the other side of B = 1
    assert re.search(r"^9 cases, seed 0: 0 disagree", out, re.M), out


def test_code_wrong_only_at_batch_1_fails_under_a_batch_3_spec(user, capsys):
    path, specs = user
    code, out = _check(capsys, path, "grad_squeeze", specs[3])
    assert code == 1, out
    assert "9 cases, seed 0: 1 disagree" in out  # every case at the spec's B = 3 agrees
    assert "counterexample (drawn; widths 3-4-2, B = 1, D = 2)" in " ".join(out.split())
    assert "fails only at batch size B = 1 (1/1 cases; agrees at B = 3)" in " ".join(out.split())


def test_code_wrong_only_above_batch_1_fails_under_a_batch_1_spec(user, capsys):
    path, specs = user
    code, out = _check(capsys, path, "grad_mean", specs[1])
    assert code == 1, out
    assert "9 cases, seed 0: 1 disagree" in out  # every case at the spec's B = 1 agrees
    text = " ".join(out.split())
    assert "counterexample (drawn; widths 3-4-2, B = 2, D = 2)" in text
    assert "fails only at batch sizes B > 1 (B = 2, 1/1 cases; agrees at B = 1)" in text
    assert "shrunk counterexample" in text and "B = 2" in text.split("shrunk counterexample")[1]


def test_api_draws_both_sides_of_batch_1():
    """The library call too: the spec's batch for the drawn and adversarial cases, plus one the other side."""
    from derivcheck.netspec import DataOptions

    spec = load_net(REPO / "examples/my_net.toml")
    seen = []
    real = derivcheck.checkgrad.cli.Judge.run

    def spy(self, case):
        seen.append(case.batch)
        return real(self, case)

    mp = pytest.MonkeyPatch()
    mp.setattr(derivcheck.checkgrad.cli.Judge, "run", spy)
    try:
        for batch, other in ((3, 1), (1, 2), (2, 1)):
            seen.clear()
            assert derivcheck.check_grad(_fn(), spec.net, cases=2, data=DataOptions(batch=batch))
            assert seen.count(other) == 1 and set(seen) == {batch, other}, seen
    finally:
        mp.undo()


def _fn():
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("my_grad_example", REPO / "examples/my_grad.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("my_grad_example", mod)
    spec.loader.exec_module(mod)
    return mod.grad


def test_batch_hint_needs_every_case_of_one_side_failing():
    from derivcheck.checkgrad.cli import _batch_hint

    assert _batch_hint({3: [0, 7], 1: [1, 1]}).startswith("fails only at batch size B = 1")
    assert _batch_hint({1: [0, 7], 2: [1, 1]}).startswith("fails only at batch sizes B > 1")
    assert _batch_hint({3: [1, 7], 1: [0, 1]}) is None  # one B = 3 case of seven: not the batch axis
    assert _batch_hint({3: [7, 7], 1: [1, 1]}) is None  # every case fails: says nothing about B
