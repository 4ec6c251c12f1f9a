"""derivcheck.cli: every verb answers --help through the dispatcher with its own usage, and the bench
verb runs end to end through `cli.main` (a quick run of the cheap `suite` section: recorded as
skipped, no timing asserted)."""

from __future__ import annotations

import importlib
import json

import pytest

from derivcheck import cli


@pytest.mark.parametrize("verb", sorted(cli.VERBS))
def test_every_verb_parses_help(verb, capsys):
    module = importlib.import_module(cli.VERBS[verb][0])
    assert callable(module.add_arguments) and callable(module.run)  # the verb contract
    with pytest.raises(SystemExit) as exc:
        cli.main([verb, "--help"])
    assert exc.value.code == 0
    assert f"usage: derivcheck {verb}" in capsys.readouterr().out


def test_top_level_help_lists_every_verb(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert all(verb in out for verb in cli.VERBS)


def test_bench_verb_quick_run_through_main(tmp_path, capsys):
    out = tmp_path / "results.json"
    assert cli.main(["bench", "--quick", "--only", "suite", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["config"]["quick"] is True and list(res["sections"]) == ["suite"]
    assert {r["id"] for r in res["targets"]} == {"suite.make_test", "suite.verify_quick"}
    assert all(r["pass"] is None and "skipped" in r["details"] for r in res["targets"])
    assert res["provenance"]["command"].startswith("derivcheck bench")
    assert "derivcheck bench (quick" in capsys.readouterr().out


def test_bench_verb_bad_section_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--only", "nonsense"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
