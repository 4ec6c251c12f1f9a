"""`derivcheck claims`' table as a new user reads it (issue 24): each table names its file (six catalog
documents share one title, and rich took the "[file.py]" after it for markup and dropped it), `--only`
prints the selected claim's table alone (not nine empty ones), and a counterexample's net is in words,
never a `Net(...)` repr."""

from derivcheck import cli
from tests.helpers import REPO

GUIDE = [str(REPO / "claims" / "guide-2.7-single-neuron.toml"), str(REPO / "claims" / "guide-2.7-two-layer.toml")]


def test_each_table_names_its_file_and_only_prints_no_empty_table(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert cli.main(["claims", *GUIDE]) in (0, 1)
    out = " ".join(capsys.readouterr().out.split())
    assert "[guide-2.7-single-neuron.toml]" in out and "[guide-2.7-two-layer.toml]" in out
    assert cli.main(["claims", *GUIDE, "--only", "2.7/T2.1/4"]) == 0
    out = capsys.readouterr().out
    assert "guide-2.7-single-neuron.toml" in out and "guide-2.7-two-layer.toml" not in out
    assert out.count("┏") == 1 and "0 false" in out


def test_a_counterexample_names_its_net_in_words(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert cli.main(["claims", str(REPO / "claims" / "coordinate_note_000.py"), "--only", "000/eq4"]) == 1
    out = capsys.readouterr().out
    flat = " ".join(out.split())
    assert "Net(" not in out and "(1, 1, 1)" not in out, out
    assert "smallest case: the net of widths 1-1-1, D = 1, kernel gaussian" in flat, flat
    assert "reproduce:" in out


def test_findings_fold_without_trailing_blanks(capsys, monkeypatch):
    """A false claim's finding folded by rich left a blank at the end of each broken line (issue 24)."""
    monkeypatch.setenv("COLUMNS", "80")
    assert cli.main(["claims", GUIDE[1]]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert all(len(ln) <= 80 and ln == ln.rstrip() for ln in lines), [ln for ln in lines if ln != ln.rstrip()]
    assert any(ln.startswith("  2.7/T2.2/8: ") for ln in lines)


def test_an_undefined_formula_value_is_not_printed_as_none(capsys, monkeypatch):
    """003/3.3-delta's counterexample printed 'None vs [[0.0, 0.0]]' in the table's note (the errata PDF
    already said 'undefined')."""
    monkeypatch.setenv("COLUMNS", "80")
    assert cli.main(["claims", str(REPO / "claims" / "sigmoid_mlp_note_003.py"), "--only", "003/3.3-delta"]) == 1
    flat = " ".join(capsys.readouterr().out.split())
    assert "None" not in flat and "undefined vs [[0.0, 0.0]], the formula is undefined here" in flat, flat
