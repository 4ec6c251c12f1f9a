"""Worked-number claims on the model family (issue 16): `dtheta` and `penalty` for a spatial net with
free amplitudes (`theta` in [network]) and a penalty, checked against independent NumPy arithmetic."""

from __future__ import annotations

import json

import numpy as np
import pytest

from derivcheck import cli
from derivcheck.claims import check_file
from derivcheck.claims.precision import FALSE, HOLDS
from derive import Net, Params, SpecError
from numeric.manual import gradients
from tests.helpers import REPO

Z = [[[0.0, 0.0], [1.0, 0.0]], [[0.5, 1.0], [-0.5, 0.5], [2.0, 1.0]], [[0.0, 2.0]]]
THETA = [[[0.5, -1.0], [2.0, 0.25], [-0.75, 1.5]], [[1.0, -0.5, 0.25]]]
X, Y = [[0.3, -0.7]], [[0.2]]
NET = f"""
[document]
id = "family"
title = "free amplitudes with a wiring cost"
[network]
kind = "spatial"
widths = [2, 3, 1]
dim = 2
kernel = "gaussian"
hidden = "tanh"
output = "identity"
loss = "mse_half"
amplitudes = "free"
coordinates = {Z}
theta = {THETA}
[[network.penalty]]
rho = "abs(w)*(lam*r + l0)"
params = {{ lam = 0.5, l0 = 1.0 }}
scale = 0.1
reduce = "mean"
[data]
x = {X}
y = {Y}
"""


def _dist(a, b) -> np.ndarray:
    a, b = np.asarray(a), np.asarray(b)
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)


def _penalties() -> list[float]:
    """0.1 * mean over all 9 edges of |theta exp(-r^2)| (0.5 r + 1), split by layer (plain NumPy)."""
    out = []
    for l in (1, 2):
        R = _dist(Z[l], Z[l - 1])
        W = np.asarray(THETA[l - 1]) * np.exp(-(R**2))  # gaussian kernel with its default scale 1
        out.append(0.1 / 9 * float(np.sum(np.abs(W) * (0.5 * R + 1.0))))
    return out


def _dtheta_fd(layer: int) -> np.ndarray:
    """dJ/dtheta of layer `layer` (engine index 1..L-1) by central differences of J."""
    net = Net(
        (2, 3, 1), dim=2, kernel="gaussian", hidden="tanh", output="identity", loss="mse_half", amplitudes="free",
        penalties=({"rho": "abs(w)*(lam*r + l0)", "params": {"lam": 0.5, "l0": 1.0}, "scale": 0.1, "reduce": "mean"},),
    )  # fmt: skip
    theta = [np.asarray(t, dtype=float) for t in THETA]
    out = np.zeros_like(theta[layer - 1])
    h = 1e-6
    for idx in np.ndindex(out.shape):
        vals = []
        for s in (h, -h):
            th = [t.copy() for t in theta]
            th[layer - 1][idx] += s
            p = Params(Z=[np.asarray(z, dtype=float) for z in Z], theta=th)
            vals.append(gradients(net, p, np.asarray(X), np.asarray(Y)).loss)
        out[idx] = (vals[0] - vals[1]) / (2 * h)
    return out


def _claim(cid: str, quantity: str, value, layer: int | None = None, tol: float | None = None) -> str:
    text = f'[[claim]]\nid = "{cid}"\nquantity = "{quantity}"\nvalue = {json.dumps(value)}\n'
    text += f"layer = {layer}\n" if layer is not None else ""
    return text + (f"tolerance = {tol}\n" if tol is not None else "")


def test_penalty_and_dtheta_claims_hold_and_a_halved_penalty_is_false(tmp_path, capsys):
    p1, p2 = _penalties()
    d2 = _dtheta_fd(2)
    body = NET
    body += _claim("pen", "penalty", f"{p1 + p2:.10f}")
    body += _claim("pen2", "penalty", f"{p1:.10f}", layer=2)
    body += _claim("pen3", "penalty", f"{p2:.10f}", layer=3)
    body += _claim("dth3", "dtheta", [[f"{v:.6f}" for v in row] for row in d2], layer=3, tol=2e-6)
    body += _claim("dth2-entry", "dtheta", f"{_dtheta_fd(1)[1, 0]:.6f}", layer=2, tol=2e-6).replace(
        "value =", "index = [1, 0]\nvalue ="
    )
    body += _claim("half", "penalty", f"{(p1 + p2) / 2:.10f}")  # the notebook's bug: half the penalty
    path = tmp_path / "family.toml"
    path.write_text(body)
    doc = check_file(path)
    verdicts = {r.id: r.verdict for r in doc.results}
    assert verdicts == {"pen": HOLDS, "pen2": HOLDS, "pen3": HOLDS, "dth3": HOLDS, "dth2-entry": HOLDS, "half": FALSE}
    assert cli.main(["claims", str(path)]) == 1
    assert "half" in capsys.readouterr().out


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s.replace("theta = ", "thetas = "), "thetas"),  # unknown key
        (lambda s: s.replace('amplitudes = "free"\n', ""), "theta given"),  # theta without free amplitudes
        (lambda s: s.replace("theta = " + str(THETA) + "\n", ""), "theta"),  # free amplitudes without theta
    ],
)
def test_theta_in_the_network_table_is_checked(tmp_path, edit, message):
    path = tmp_path / "c.toml"
    path.write_text(edit(NET) + _claim("c", "loss", "1"))
    with pytest.raises(SpecError, match=message):
        check_file(path)


def test_dtheta_and_penalty_need_the_family(tmp_path):
    plain = NET.replace('amplitudes = "free"\n', "").replace("theta = " + str(THETA) + "\n", "")
    plain = plain[: plain.index("[[network.penalty]]")] + plain[plain.index("[data]") :]
    for claim, message in ((_claim("t", "dtheta", "1", layer=2), "amplitudes"), (_claim("p", "penalty", "1"), "penalty")):
        path = tmp_path / "c.toml"
        path.write_text(plain + claim)
        with pytest.raises(SpecError, match=message):
            check_file(path)


def test_readme_documents_the_new_quantities():
    text = (REPO / "README.md").read_text()
    assert "dtheta" in text[text.index("## Claims files") :] and "theta = [" in text


def test_penalty_claims_on_an_mlp_with_weight_decay(tmp_path):
    """An MLP's penalty on W (issue 23, item 3): J = L + 0.05 sum W^2 on the guide's 1-1-1 sigmoid net; the
    penalty, J and dJ/dW = dL/dW + 0.1 W hold against plain arithmetic, the decay left out of dW is false."""
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    a2 = sig(3.0 * 2.0 + 1.0)
    a3 = sig(4.0 * a2 - 2.0)
    J = 0.5 * (a3 - 1.0) ** 2 + 0.05 * (9.0 + 16.0)
    dL3 = (a3 - 1.0) * a3 * (1 - a3) * a2
    body = (
        '[document]\nid = "decay"\ntitle = "weight decay"\n[network]\nkind = "mlp"\nwidths = [1, 1, 1]\n'
        'activations = ["sigmoid", "sigmoid"]\nloss = "sse_half"\nweights = [[[3.0]], [[4.0]]]\nbiases = [[1.0], [-2.0]]\n'
        '[[network.penalty]]\nrho = "w**2"\nscale = 0.05\n[data]\nx = [[2.0]]\ny = [[1.0]]\n'
    )
    body += _claim("pen", "penalty", "1.25") + _claim("pen3", "penalty", "0.8", layer=3) + _claim("J", "loss", f"{J:.10f}")
    body += _claim("dW3", "dW", f"{dL3 + 0.1 * 4.0:.10f}", layer=3) + _claim("dW3-no-decay", "dW", f"{dL3:.10f}", layer=3)
    path = tmp_path / "decay.toml"
    path.write_text(body)
    verdicts = {r.id: r.verdict for r in check_file(path).results}
    assert verdicts == {"pen": HOLDS, "pen3": HOLDS, "J": HOLDS, "dW3": HOLDS, "dW3-no-decay": FALSE}
