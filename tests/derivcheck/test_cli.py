"""derivcheck.cli: every verb answers --help through the dispatcher with its own usage, and the bench
verb runs end to end through `cli.main` (a quick run of the cheap `suite` section: recorded as
skipped, no timing asserted)."""

from __future__ import annotations

import importlib
import io
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
    (["report", "--which", "derivation,verificaton"], "invalid choice: 'verificaton' (choose from"),
    (["report", "--which", "derivaton"], "(did you mean derivation?); see derivcheck report --help"),
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
    p.add_argument("--penalty")
    # a new user's `report --only x` was asked "did you mean --penalty?": the dashes made them look alike
    assert cli.did_you_mean(p, "unrecognized arguments: --only x") == ""
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
    # stderr: nothing but the progress lines (claims: one per file when piped), no traceback
    assert p.returncode == 141 and all(line.startswith("claims 1/1: ") for line in err.decode().splitlines()), err


def test_claims_only_an_unknown_id_is_bad_input(capsys):
    """--only with an id no file has checks nothing: no verdict, one line and exit 2 (it was exit 0)."""
    from derivcheck import cli

    assert cli.main(["claims", "--only", "nope", "claims/guide-2.7-single-neuron.toml"]) == 2
    assert "no claim has the id 'nope'" in capsys.readouterr().err


HEAVY = ("torch", "sympy", "scipy", "numexpr", "matplotlib", "hypothesis", "jinja2")


def test_verb_help_and_usage_errors_import_no_engine():
    """`derivcheck VERB --help` and a mistyped flag answer without loading torch, SymPy, matplotlib ...
    (they took 3.4-4.4 s each when every verb's module imported its engines to add its options)."""
    import subprocess
    import sys

    code = (
        "import sys, runpy\n"
        f"heavy = {HEAVY!r}\n"
        f"for verb in {sorted(cli.VERBS)!r}:\n"
        "    for tail in (['--help'], ['--no-such-flag']):\n"
        "        sys.argv = ['derivcheck', verb, *tail]\n"
        "        try: runpy.run_module('derivcheck', run_name='__main__', alter_sys=True)\n"
        "        except SystemExit as exc: code = exc.code\n"
        "        print('@@', verb, tail[0], code, sorted(m for m in heavy if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    lines = [ln[3:] for ln in proc.stdout.splitlines() if ln.startswith("@@ ")]
    assert len(lines) == 2 * len(cli.VERBS), proc.stdout + proc.stderr
    for line in lines:
        verb, flag, code, loaded = line.split(" ", 3)
        assert code == ("0" if flag == "--help" else "2"), line
        assert loaded == "[]", line


def test_the_option_lists_spelled_out_for_help_match_the_engines():
    """The names --help lists without importing the engines are theirs."""
    import derive
    from derivcheck import audit, train, verify
    from derivcheck.audit.args import KERNEL_NAMES
    from derivcheck.train.args import METHOD_NAMES, TASK_NAMES
    from derivcheck.verify.args import CHECK_NAMES

    assert CHECK_NAMES == verify.CHECKS
    assert KERNEL_NAMES == tuple(derive.KERNELS) and callable(audit.audit)
    assert (TASK_NAMES, METHOD_NAMES) == (train.TASKS, train.METHODS)


def test_the_faces_still_export_their_names():
    import derivcheck.bench
    import derivcheck.checkgrad
    import derivcheck.claims
    import derivcheck.report
    import derivcheck.train
    import derivcheck.verify

    for face in (derivcheck.verify, derivcheck.report, derivcheck.claims, derivcheck.train, derivcheck.checkgrad):
        assert all(getattr(face, name) is not None for name in face.__all__), face.__name__
    assert callable(derivcheck.bench.bench_gradient) and derivcheck.bench.problems.__name__ == "derivcheck.bench.problems"
    with pytest.raises(AttributeError):
        _ = derivcheck.verify.no_such_name


def test_an_error_is_one_line_on_a_pipe_and_folded_to_the_terminal_on_one(monkeypatch):
    line = "derivcheck report: error: argument --which: invalid choice: 'derivaton' " + "x " * 100 + "; see --help"

    class Tty:
        def isatty(self):
            return True

    monkeypatch.setenv("COLUMNS", "80")
    folded = cli.error_text(line, Tty())
    assert len(folded.splitlines()) > 1 and all(len(ln) <= 80 for ln in folded.splitlines())
    assert " ".join(folded.split()) == " ".join(line.split())
    assert cli.error_text(line, io.StringIO()) == line  # piped: one line, whole


def test_the_readme_quotes_the_usage_error_as_printed(capsys):
    readme = " ".join((REPO / "README.md").read_text().split())
    with pytest.raises(SystemExit):
        cli.main(["report", "--which", "derivaton"])
    err = capsys.readouterr().err.strip()
    head = "derivcheck report: error: argument --which: invalid choice: 'derivaton'"
    tail = "(did you mean derivation?); see derivcheck report --help"
    assert err.startswith(head) and err.endswith(tail)
    assert f"`{head} ... {tail}`" in readme and "answer at once" in readme
