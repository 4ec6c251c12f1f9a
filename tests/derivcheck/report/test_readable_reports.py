"""Reports a reader can read (issue 15, items 3, 4 and 6): every text goes through the one escape, the
audit report builds for kernels whose formulas broke hand-written escaping, the errata builds for a
non-ASCII title, and the reports show numbers and equations rather than Python reprs and file citations."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from derivcheck.audit import audit, write_report
from derivcheck.audit.report import readable
from derivcheck.claims import REPO, build_errata, check_file
from derivcheck.latex import tex_available
from derive import KERNELS

# the user kernels whose audit report crashed LaTeX (** became \cdot \cdot inside \text{}), then the library
USER_KERNELS = ("-2*tanh(2.6*(r-0.43))", "tanh(1-r)", "sin(3*r)/(3*r)")
# a float printed with all its 17 digits: 9 or more significant digits (0.000420577 has 6)
LONG_FLOAT = re.compile(r"(?<![\d.])(?:[1-9]\d*\.\d{8,}|0\.0*[1-9]\d{8,})")


def _pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("spec", USER_KERNELS + tuple(KERNELS))
def test_audit_report_builds_for_every_kernel(spec, tmp_path):
    # sin(3r)/(3r) is 0/0 at r = 0 (removable): its numeric checks run (the engines use g(0+) there) and
    # their evidence is typeset; that one runs with engines on, the rest exact only
    a = audit(spec, engines=spec == "sin(3*r)/(3*r)", examples=1)
    tex, pdf = write_report(a, tmp_path, compile=tex_available())
    text = tex.read_text()
    assert r"\cdot \cdot" not in text and "MATH.md" not in text
    evidence = text[text.index(r"\section*{Evidence}") :]
    assert "textquotedbl" not in evidence and "{\\{}{\\textquotesingle}" not in evidence  # no Python dicts
    assert not LONG_FLOAT.search(evidence), LONG_FLOAT.search(evidence)
    if tex_available():
        assert pdf is not None and pdf.read_bytes()[:4] == b"%PDF"


def test_readable_evidence_has_no_python_reprs():
    v = {"points": 11001, "first_bad_r": 0.30000000000000004, "ok": True, "where": [1e-8, None]}
    assert readable(v) == "points: 11001; first_bad_r: 0.3; ok: true; where: 1e-08, none"
    assert readable(float("inf")) == "inf" and readable({}) == "none"


def test_phi_check_is_absolute_where_phi0_is_zero():
    # phi(0) = 0 exactly; the compiled phi(1e-8) = -6.4e-15 is right (a relative error of 3e+293 is not)
    c = audit("1/(1+(r/a)**4)", {"a": 0.5}, engines=False).check("phi")
    assert c.verdict == "pass", c.detail
    assert c.evidence["absolute distance at 1e-8"] < 1e-12
    # a nonzero phi(0) keeps the relative distance, and sin(r)/r still warns of its cancellation
    assert "relative distance at 1e-8" in audit("gaussian", engines=False).check("phi").evidence
    assert audit("sin(r)/r", engines=False).check("phi").verdict == "warn"


NON_ASCII = """[document]
id = "unicode-doc"
title = "Réseaux — σ-Übung & 50% of {x_1}: naïve ∑ 😀"
source = "Übung_1.txt"

[network]
kind = "mlp"
widths = [1, 1]
activations = ["sigmoid"]
loss = "sse_half"
input_layer = 1
weights = [[[3.0]]]
biases = [[1.0]]

[data]
x = [[2.0]]
y = [[1.0]]

[[claim]]
id = "ü/1"
where = "Tabelle 1 — Schritt 4"
quantity = "z"
layer = 2
value = "7"
text = "z = wx + b"
"""


def test_errata_builds_for_a_non_ascii_title(tmp_path):
    path = tmp_path / "unicode.toml"
    path.write_text(NON_ASCII, encoding="utf-8")
    docs = [check_file(path), check_file(REPO / "claims" / "coordinate_note_000.py", cases=25, prove=False)]
    tex, pdf = build_errata(docs, tmp_path, argv=["claims", "--errata", str(tmp_path)])
    assert tex.exists()
    if not tex_available() or shutil.which("pdftotext") is None:
        pytest.skip("TeX or pdftotext not installed; the .tex is rendered")
    assert pdf is not None
    text = _pdf_text(pdf)
    assert "Réseaux" in text and "Übung" in text
    # the correct form of eq. (8) is a formula with its words spaced, not "eq.(8)withtheactivations"
    assert "withtheactivations" not in text.replace("\n", "")
    assert "onlywhen" not in text.replace("\n", "")


def test_catalog_correct_formulas_keep_words_in_text_mode():
    # the errata typesets `correct` in math mode, where spaces vanish: words belong in \text{...}
    from derivcheck.claims import default_files, load_formulas

    words = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,} [A-Za-z]{2,} [A-Za-z]{2,}")
    for path in default_files():
        if path.suffix == ".py":
            for claim in load_formulas(path)[1]:
                math = re.sub(r"\\text\{[^{}]*(\{[^{}]*\}[^{}]*)*\}", "", claim.correct)
                assert not words.search(math), (claim.id, claim.correct)


# ------------------------------------------------------------------ tables at 80 columns, --json PATH|-


def _lines_fit(text: str, width: int = 80) -> None:
    assert text.strip()
    assert max(len(line) for line in text.splitlines()) <= width, text
    assert "…" not in text  # nothing truncated


def test_audit_table_fits_80_columns_and_json_goes_to_stdout(capsys, monkeypatch, tmp_path):
    from derivcheck import cli

    monkeypatch.setenv("COLUMNS", "80")
    assert cli.main(["audit-kernel", "gaussian", "--examples", "1"]) == 0
    out = capsys.readouterr().out
    _lines_fit(out)
    assert "gradient_at_coincidence" in out.replace("\n", "").replace(" ", "").replace("│", "")
    assert cli.main(["audit-kernel", "gaussian", "--examples", "1", "--json", "-"]) == 0
    doc = json.loads(capsys.readouterr().out)  # stdout is the JSON alone
    assert doc["verdict"] == "pass" and len(doc["checks"]) == 11
    path = tmp_path / "audit.json"
    assert cli.main(["audit-kernel", "gaussian", "--examples", "1", "--json", str(path)]) == 0
    _lines_fit(capsys.readouterr().out)  # the table, and the JSON in the file
    assert json.loads(path.read_text())["kernel"] == "gaussian"


def test_claims_table_fits_and_json_numbers_are_numbers(capsys, monkeypatch, tmp_path):
    from derivcheck import cli

    monkeypatch.setenv("COLUMNS", "80")
    files = [str(REPO / "claims" / "guide-3.5-jacobians.toml")]
    cli.main(["claims", *files])
    _lines_fit(capsys.readouterr().out)
    cli.main(["claims", *files, "--json", "-"])
    doc = json.loads(capsys.readouterr().out)
    results = doc["documents"][0]["results"]
    assert results and all(isinstance(r["true"], (float, list)) for r in results)
    assert all(isinstance(r["claimed"], (float, list)) and isinstance(r["claimed_text"], str) for r in results)


def test_verify_table_is_complete_when_piped(capsys, monkeypatch, tmp_path):
    from derivcheck import cli

    monkeypatch.setenv("COLUMNS", "80")
    out = tmp_path / "results.json"
    cli.main(["verify", "--quick", "--drawn", "0", "--only", "m000", "--out", str(out), "--json", "-"])
    doc = json.loads(capsys.readouterr().out)
    assert doc == json.loads(out.read_text())
    cli.main(["verify", "--quick", "--drawn", "0", "--only", "m000", "--out", str(out)])
    text = capsys.readouterr().out
    _lines_fit(text)
    assert re.search(r"\d\.\de-\d\d", text)  # whole numbers such as 1.2e-16, not "1.2e-…"


# ------------------------------------------------------------------------------- the derivation report


def test_derivation_report_notation_and_no_proof(tmp_path):
    from derivcheck import report
    from derive import Net

    net = Net(widths=(2, 2, 1), dim=2, kernel="gaussian", hidden="tanh")
    tex, pdf = report.derivation_report(tmp_path, net=net, proof=False, compile=tex_available())
    text = tex.read_text()
    assert "z^{2}_{1,1}" in text and "x_{1,1}" in text and r"\xi_{1}" in text
    assert not re.search(r"z_\{\d{3}\}|x_\{\d\d\}", text)  # no z_{100}, x_{01}
    assert "MATH.md" not in text and "coordinate note" not in text and "Eq.~(8)" not in text
    assert r"\tag{C}" in text and "no-{}proof" in text
    if tex_available():
        assert pdf is not None and pdf.read_bytes()[:4] == b"%PDF"


def test_report_verb_skips_the_proof_when_asked(capsys, tmp_path):
    from derivcheck import cli

    assert cli.main(["report", "--which", "derivation", "--no-pdf", "--no-proof", "--out", str(tmp_path)]) == 0
    assert "derivation:" in capsys.readouterr().out
    text = (tmp_path / "derivation.tex").read_text()
    assert "not checked against the exact gradient" in text and "proved equal" not in text
