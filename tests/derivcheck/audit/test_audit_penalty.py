"""`derivcheck audit-kernel --penalty RHO`: the penalty's own audit (issue 16), through cli.main."""

from __future__ import annotations

import json

import numpy as np
import pytest

from derivcheck import cli
from derivcheck.audit.penalty import PENALTY_CHECKS, audit_penalty
from derive.primitives.penalty import Penalty
from tests.helpers import fits_80


def _audit(capsys, *argv) -> tuple[int, dict, str]:
    rc = cli.main(["audit-kernel", *argv, "--json", "-"])
    out, err = capsys.readouterr()
    return rc, json.loads(out), err


def _verdicts(rec: dict) -> dict[str, str]:
    return {c["name"]: c["verdict"] for c in rec["checks"]}


def test_wiring_cost_has_no_gradient_where_nodes_meet(capsys):
    rc, rec, _ = _audit(capsys, "--penalty", "abs(w)*r")
    assert rc == 1 and rec["penalty"] == "abs(w)*r" and rec["verdict"] == "fail"
    v = _verdicts(rec)
    assert list(v) == list(PENALTY_CHECKS)
    assert v["gradient_at_coincidence"] == "fail" and v["smooth"] == "warn"  # |w|: a kink at w = 0
    assert v["bounded_gradient"] == "pass" and v["float32"] == "pass"
    ev = rec["checks"][0]["evidence"]
    assert ev["lim rho_r (r -> 0+)"] == "Abs(w)"  # dJ/dr -> |w| != 0


def test_notebook_distance_penalty_fails_at_r_0(capsys):
    rc, rec, _ = _audit(capsys, "--penalty", "(s*(r-q0))**2", "--penalty-param", "s=6.1", "--penalty-param", "q0=0.433")
    assert rc == 1 and rec["params"] == {"q0": 0.433, "s": 6.1}
    v = _verdicts(rec)
    assert v["gradient_at_coincidence"] == "fail" and v["smooth"] == "pass" and v["float32"] == "pass"
    detail = rec["checks"][0]["detail"]
    assert "-32.2239" in detail  # -2 s^2 q0 = -32.22386 (rho_r at r = 0)


def test_smooth_even_penalty_passes_and_the_table_fits_80_columns(capsys):
    rc = cli.main(["audit-kernel", "--penalty", "w**2*r**2"])
    out = capsys.readouterr().out
    assert rc == 0 and "overall: pass" in out and "penalty rho(r, w) = w**2*r**2" in out
    assert all(fits_80(line) for line in out.splitlines())
    rc, rec, _ = _audit(capsys, "--penalty", "w**2*r**2", "--strict")
    assert rc == 0 and set(_verdicts(rec).values()) == {"pass"}
    sup = rec["checks"][1]["evidence"]["sup|rho_w|"]
    assert sup["value"] == pytest.approx(2 * 100 * 1e4**2, rel=1e-12)  # 2 w r^2 at the grid's corner


def test_float32_overflow_and_unbounded_gradient_fail():
    a = audit_penalty(Penalty("exp(80*r)*w"))  # exp(80 r) overflows float32 near r = 1.1, float64 near 8.9
    assert a.check("float32").verdict == "fail" and a.check("bounded_gradient").verdict == "fail"
    b = audit_penalty(Penalty("sqrt(r)*w**2"))  # rho_r = w^2 / (2 sqrt r): infinite as r -> 0
    assert b.check("bounded_gradient").verdict == "fail" and b.check("gradient_at_coincidence").verdict == "fail"
    assert np.isfinite(b.seconds)


def test_bad_penalty_input_is_one_line_exit_2(capsys):
    assert cli.main(["audit-kernel", "--penalty", "(s*r)**2"]) == 2  # s without a value
    assert cli.main(["audit-kernel", "--penalty", "w*r**2", "--penalty-param", "s=1"]) == 2  # unused
    assert cli.main(["audit-kernel", "--penalty", "w*r**2", "--penalty", "r**2"]) == 2  # one at a time
    err = capsys.readouterr().err
    assert "not used" in err and "one penalty at a time" in err


def test_a_kernel_with_penalty_still_audits_the_kernel(capsys):
    rc, rec, _ = _audit(capsys, "gaussian", "--penalty", "abs(w)*r", "--examples", "2")
    assert rec["kernel"] == "gaussian" and "penalty" not in rec
    assert rc in (0, 1) and "gradient_at_coincidence" in _verdicts(rec)
