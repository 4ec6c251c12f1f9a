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
    monkeypatch.chdir(tmp_path)
    assert cli.main(["claims", str(CATALOG), "--only", "000/eq4", "--seed", "0"]) == 1  # a false claim
    out = " ".join(capsys.readouterr().out.split())  # undo the table's folding
    command = out.split("reproduce: ", 1)[1].split(" --seed 0")[0] + " --seed 0"
    argv = shlex.split(command)
    assert argv[:2] == ["derivcheck", "claims"] and argv[2] == str(CATALOG.resolve())
    assert cli.main(argv[1:]) == 1  # the same verdict, not "cannot read" (exit 2)
