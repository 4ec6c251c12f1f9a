"""derivcheck.claims.result: the reproducing command printed for a false claim runs as printed from the
folder claims ran in (issue 24: after pip install it named derivcheck/catalog/..., exit 2 anywhere)."""

import shlex

from derivcheck import cli
from derivcheck.claims.result import display_path
from tests.helpers import REPO

CATALOG = REPO / "derivcheck" / "catalog" / "coordinate_note_000.py"


def test_display_path_is_relative_below_the_current_folder_else_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    assert display_path(CATALOG) == "claims/coordinate_note_000.py"  # the catalog link resolved
    monkeypatch.chdir(tmp_path)
    assert display_path(CATALOG) == str(CATALOG.resolve())


def test_printed_reproduce_command_runs_as_printed_elsewhere(tmp_path, monkeypatch, capsys):
    """Also where the path is longer than the terminal (an installed catalog): the command is one line."""
    import shutil

    deep = tmp_path / ("site-packages-" + "x" * 60) / "derivcheck" / "catalog"
    deep.mkdir(parents=True)
    shutil.copy(CATALOG, deep / CATALOG.name)
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("COLUMNS", "80")
    assert cli.main(["claims", str(deep / CATALOG.name), "--only", "000/eq4", "--seed", "0"]) == 1  # a false claim
    out = capsys.readouterr().out
    # every line fits 80 columns, but for a single word longer than that (the path), which stands whole
    assert all(len(ln) <= 80 or " " not in ln.removesuffix(" \\").strip() for ln in out.splitlines())
    joined = out.replace(" \\\n", " ")  # the shell's line continuations, as a shell reads them
    lines = [ln for ln in joined.splitlines() if "reproduce: derivcheck claims" in ln]
    assert lines, "no reproduce line"
    argv = shlex.split(lines[0].split("reproduce: ", 1)[1])
    assert argv[:2] == ["derivcheck", "claims"] and argv[2] == str((deep / CATALOG.name).resolve()) and len(argv[2]) > 80
    assert cli.main(argv[1:]) == 1  # the same verdict, not "cannot read" (exit 2)
