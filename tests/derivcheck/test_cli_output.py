"""What the verbs print fits an 80-column terminal and reads once: help texts, error lines, no stray
empty line when piped (derivcheck.cli, derivcheck.tables)."""

from __future__ import annotations

import pytest

from derivcheck import cli
from tests.helpers import fits_80


@pytest.mark.parametrize("verb", [*sorted(cli.VERBS), None])
def test_every_help_fits_80_columns(verb, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit):
        cli.main([verb, "--help"] if verb else ["--help"])
    out = capsys.readouterr().out
    assert all(fits_80(line) for line in out.splitlines()), max(out.splitlines(), key=len)


def test_bench_help_documents_seed_and_only(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit):
        cli.main(["bench", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--seed SEED seed of every random problem timed (default 0)" in out
    assert "--only SECTION [SECTION ...] run only these sections: symbolic, gradient," in out


def test_claims_default_is_claims_here_else_the_bundled_catalog(tmp_path, monkeypatch, capsys):
    from derivcheck.claims import default_files

    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit):
        cli.main(["claims", "--help"])
    assert "(default: claims/* here, else the bundled catalog)" in " ".join(capsys.readouterr().out.split())
    monkeypatch.chdir(tmp_path)
    bundled = default_files()
    assert bundled and all(p.is_absolute() for p in bundled)  # no claims/ here: the catalog
    (tmp_path / "claims").mkdir()
    (tmp_path / "claims" / "mine.toml").write_text("")
    assert [str(p) for p in default_files()] == ["claims/mine.toml"]


def test_an_audit_kernel_parse_error_names_the_verb_once(capsys):
    assert cli.main(["audit-kernel", "tanh(r"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("derivcheck audit-kernel: error: the command line: cannot parse 'tanh(r'")
    assert err.count("audit-kernel") == 1 and len(err.splitlines()) == 1


def test_train_piped_prints_no_empty_line_for_its_progress_bar(tmp_path, capsys, monkeypatch):
    # rich leaves an empty line where a transient bar was on a non-terminal: the bar is off there
    monkeypatch.chdir(tmp_path)
    argv = ["train", "--widths", "3,4,2", "--dim", "2", "--method", "gd", "--iters", "3", "--out", "o"]
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    assert err == "" and "" not in out.splitlines()
