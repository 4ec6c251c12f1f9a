"""Issue 22: fd's own error is never the user's failure. Where central differences cannot resolve the
gradient (rounding eps |J| / h plus truncation, against tolerance x value), fd is skipped on that case
with the reason, never failed and never passed; on a normal case it still catches a wrong truth."""

import dataclasses
import json

import numpy as np

from derivcheck.cli import main
from numeric.engines import ENGINES

GAUSS_1_1 = ["--widths", "1,1", "--dim", "2", "--kernel", "exp(-r**2/s**2)", "--param", "s=0.7"]


def _verify(tmp_path, *argv):
    out = tmp_path / "r.json"
    code = main(["verify", *argv, "--engines", "manual,fd", "--seed", "0", "--out", str(out)])
    return code, json.loads(out.read_text())


def _fd_skip(case) -> str:
    (why,) = [s for s in case["skipped"] if s.startswith("fd:")]
    return why


def test_a_1e_7_pair_is_skipped_by_fd_not_failed(tmp_path):
    """Was: fd -9.97113e-07 vs truth -9.97141e-07, relative error 2.76e-05 > 1e-05 (a false failure)."""
    code, res = _verify(tmp_path, *GAUSS_1_1, "--only", "a02-near-1e-7")
    assert code == 0 and res["summary"]["verdict"] == "pass", res["failures"]
    (case,) = res["cases"]
    assert "fd" not in case["errors"]
    assert "cannot resolve dJ/dx here" in _fd_skip(case) and "at step 6e-06" in _fd_skip(case)
    assert res["summary"]["not_checked"]["fd"].startswith("cannot resolve dJ/dx here")


def test_a_40_layer_width_1_net_is_skipped_by_fd_not_failed(tmp_path):
    """Was: fd 0.0 vs -3.1e-99 (a gradient 1e-99 under a rounding noise of 1e-11), relative error 1."""
    code, res = _verify(tmp_path, "--widths", ",".join(["1"] * 40), "--only", "n000")
    assert code == 0 and res["summary"]["verdict"] == "pass", res["failures"]
    assert "cannot resolve dJ/dx here" in _fd_skip(res["cases"][0]) and "fd" in res["summary"]["not_checked"]


def test_subnormal_coordinate_range_is_skipped_by_fd_not_failed(tmp_path):
    """[data] coordinate_range = [0, 1e-320]: every node at 0, the gradient 0 (and 5e-7 at the pair
    1e-7 apart, where fd was 2.45e-04 off): nothing fd can resolve."""
    from tests.helpers import REPO

    spec = tmp_path / "tiny.toml"
    spec.write_text((REPO / "presets/note.toml").read_text().replace("[data]", "[data]\ncoordinate_range = [0, 1e-320]"))
    for only in ("n000", "a02-near-1e-7"):
        code, res = _verify(tmp_path, "--net", str(spec), "--only", only)
        assert code == 0 and res["summary"]["verdict"] == "pass", res["failures"]
        assert "cannot resolve dJ/dx here" in _fd_skip(res["cases"][0])


def test_fd_still_catches_a_wrong_truth_on_a_normal_case(tmp_path, monkeypatch):
    """The same net, a normal case: fd runs and fails a truth with one dZ entry 1 % off (fd judges the
    ground truth); the skip decision reads only the differences and J, never the gradient under test."""
    code, res = _verify(tmp_path, *GAUSS_1_1, "--only", "n000")
    assert code == 0 and res["cases"][0]["errors"]["fd"]["grad"]["pass"]
    assert not any(s.startswith("fd:") for s in res["cases"][0]["skipped"])
    real = ENGINES["symbolic"].contract_gradients

    def wrong(net, params, X, Y, **kw):
        g = real(net, params, X, Y, **kw)
        g.dZ[0] = g.dZ[0].copy()
        g.dZ[0][0, 0] *= 1.01
        return g

    monkeypatch.setitem(ENGINES, "symbolic", dataclasses.replace(ENGINES["symbolic"], contract_gradients=wrong))
    for only in ("n000", "n001", "a00-near-1e-3"):
        code, res = _verify(tmp_path, *GAUSS_1_1, "--only", only)
        assert code == 1
        (fd,) = [f for f in res["failures"] if f["engine"] == "fd"]
        assert "grad entry 1 (fd vs" in fd["message"], fd  # the first entry (numbered from 1)
    # a truth of 0 where fd resolves a gradient is caught too: the value judged is the larger of the two
    monkeypatch.setitem(
        ENGINES,
        "symbolic",
        dataclasses.replace(ENGINES["symbolic"], contract_gradients=lambda *a, **kw: _zero(real(*a, **kw))),
    )
    code, res = _verify(tmp_path, *GAUSS_1_1, "--only", "n000")
    assert code == 1 and any(f["engine"] == "fd" for f in res["failures"])


def _zero(g):
    g.dZ = [np.zeros_like(z) for z in g.dZ]
    g.dW = [np.zeros_like(w) for w in g.dW] if g.dW is not None else None
    return g


def test_the_summary_counts_one_reason_whatever_each_case_numbers():
    """fd skipped on every case of a 40-layer net, each with its own bound and gradient: one reason in
    not_checked (it said "24 other reasons"), and a different reason still counts as another."""
    from derivcheck.verify.summary import never_checked

    def rec(why):
        return {"errors": {}, "skipped": [f"fd: {why}"]}

    why = "cannot resolve dJ/dx here: error bound {} (rounding {}, truncation 0.0e+00 at step 6e-06)"
    why += " vs tolerance 1e-05 x gradient {}"
    recs = [rec(why.format(b, b, g)) for b, g in (("2.8e-11", "7.7e-94"), ("3.1e-11", "1.2e-99"), ("9.0e-12", "5.6e-65"))]
    assert never_checked(recs, ["fd"], {}) == {"fd": why.format("2.8e-11", "2.8e-11", "7.7e-94")}
    assert never_checked([*recs, rec("loss not C2: relu has a kink")], ["fd"], {})["fd"].endswith("; 1 other reason in the results")
