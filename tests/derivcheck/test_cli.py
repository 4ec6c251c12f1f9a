"""derivcheck.cli: every verb answers --help through the dispatcher with its own usage, and the bench
verb runs end to end through `cli.main` (a quick run of the cheap `suite` section: recorded as
skipped, no timing asserted)."""

from __future__ import annotations

import importlib
import json

import pytest

from derivcheck import cli
from tests.helpers import REPO


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


def test_help_and_version_import_no_engine():
    # only the verb being run is imported: --help and --version answer without loading torch or SymPy
    import subprocess
    import sys

    code = (
        "import sys; from derivcheck import cli\n"
        "for argv in (['--help'], ['--version']):\n"
        "    try: cli.main(argv)\n"
        "    except SystemExit: pass\n"
        "print(sorted(m for m in ('torch', 'sympy', 'numpy', 'hypothesis') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stderr


USAGE_ERRORS = [
    (["verify", "--seeed", "3"], "derivcheck verify: error: unrecognized arguments: --seeed 3 (did you mean --seed?)"),
    (["train", "--method", "sgd"], "derivcheck train: error: argument --method: invalid choice: 'sgd'"),
    (["bench", "--only", "gradients"], "(did you mean gradient?); see derivcheck bench --help"),
    (["claims", "--no-such-flag"], "derivcheck claims: error: unrecognized arguments: --no-such-flag"),
    (["verify", "--seed", "x"], "derivcheck verify: error: argument --seed: invalid int value: 'x'"),
    (["check-grad"], "derivcheck check-grad: error: the following arguments are required: FILE.py:FUNC"),
    (["verfy"], "derivcheck: error: argument VERB: invalid choice: 'verfy'"),
]


@pytest.mark.parametrize(("argv", "phrase"), USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_a_usage_error_is_one_line_with_a_pointer_to_help(argv, phrase, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    verb = "derivcheck" if argv[0] == "verfy" else f"derivcheck {argv[0]}"
    assert out == "" and len(err.splitlines()) == 1 and "usage:" not in err
    assert phrase in err and err.rstrip().endswith(f"; see {verb} --help")


def test_the_suggestion_is_the_closest_option_or_choice_or_none():
    from argparse import ArgumentParser

    p = ArgumentParser()
    p.add_argument("--seed")
    p.add_argument("--cases")
    assert cli.did_you_mean(p, "unrecognized arguments: --seeed 3") == " (did you mean --seed?)"
    assert cli.did_you_mean(p, "unrecognized arguments: --casse=4") == " (did you mean --cases?)"
    assert cli.did_you_mean(p, "unrecognized arguments: --zzz") == ""
    msg = "argument --method: invalid choice: 'sgd' (choose from 'gd', 'adam', 'newton-cg', 'all')"
    assert cli.did_you_mean(p, msg) == " (did you mean gd?)"


def test_python_m_bench_usage_errors_are_one_line_too(capsys):
    from derivcheck.bench.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--only", "nonsense"])
    assert exc.value.code == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


@pytest.mark.parametrize("argv", [["audit-kernel", "gaussian"], ["claims", "claims/guide-2.7-single-neuron.toml"]])
def test_a_reader_that_goes_away_is_a_quiet_exit_141_not_1(argv):
    """`derivcheck ... | head -1`: exit 141 (as SIGPIPE), no traceback; rich alone exits 1, the code of a
    failed check (u2 finding N5)."""
    import subprocess
    import sys

    repo = REPO
    p = subprocess.Popen([sys.executable, "-m", "derivcheck", *argv], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None
    p.stdout.close()  # the reader leaves before the first line (the command takes a second to start)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 141 and err.decode() == ""


def test_claims_only_an_unknown_id_is_bad_input(capsys):
    """--only with an id no file has checks nothing: no verdict, one line and exit 2 (it was exit 0)."""
    from derivcheck import cli

    assert cli.main(["claims", "--only", "nope", "claims/guide-2.7-single-neuron.toml"]) == 2
    assert "no claim has the id 'nope'" in capsys.readouterr().err
