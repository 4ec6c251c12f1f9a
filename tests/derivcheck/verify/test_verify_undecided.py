"""verify on ball arithmetic: the truth is Arb balls (derive.symbolic.gradients(backend="arb")); a case
whose exact value no precision decides is not judged and is named in not_checked, never a failure of
the engines and never a silent pass; with every case undecided there is no verdict (exit 2)."""

from __future__ import annotations

import json

from derivcheck import cli
from derivcheck.verify import checks
from derive.symbolic.balls import Undecided


def _undecided_for(ids):
    real = checks.run_case

    def run_case(case, engines, **kw):
        if case.id in ids:
            raise Undecided("db of layer 2, entry (1,)", 200, float("inf"), "[+/- 1e-201]")
        return real(case, engines, **kw)

    return run_case


def test_an_undecided_case_is_not_judged_and_is_named(tmp_path, monkeypatch, capsys):
    import derivcheck.verify.cli as verify_cli

    monkeypatch.setattr(verify_cli, "run_case", _undecided_for({"m001"}))
    out = tmp_path / "r.json"
    assert cli.main(["verify", "--quick", "--drawn", "0", "--engines", "manual", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    s = res["summary"]
    assert s["verdict"] == "pass" and s["failures"] == 0
    assert s["not_checked"]["cases"].startswith("1 case(s) not judged, the ground truth undecided: m001")
    rec = next(r for r in res["cases"] if r["id"] == "m001")
    assert rec["pass"] is None and "undecided at 200 digits" in rec["undecided"] and not rec["errors"]


def test_every_case_undecided_is_no_verdict(tmp_path, monkeypatch, capsys):
    import derivcheck.verify.cli as verify_cli

    monkeypatch.setattr(verify_cli, "run_case", _undecided_for({f"m{i:03d}" for i in range(20)}))
    out = tmp_path / "r.json"
    assert cli.main(["verify", "--quick", "--drawn", "0", "--engines", "manual", "--out", str(out)]) == 2
    assert "no verdict without evidence" in capsys.readouterr().err


def test_the_truth_verify_judges_against_is_balls(monkeypatch):
    from derive import symbolic as sym

    seen = []
    real = sym.gradients

    def spy(*a, **kw):
        seen.append(kw.get("backend"))
        return real(*a, **kw)

    import dataclasses

    monkeypatch.setitem(
        checks.ENGINE_TABLE, "symbolic", dataclasses.replace(checks.ENGINE_TABLE["symbolic"], contract_gradients=spy)
    )
    from derivcheck.verify.cases import matrix_cases

    checks.run_case(matrix_cases(0, quick=True)[0], ("manual",))
    assert seen and set(seen) == {"arb"}
