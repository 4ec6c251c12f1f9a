"""Reports a reader can read (issue 15, items 3, 4 and 6): every text goes through the one escape, the
audit report builds for kernels whose formulas broke hand-written escaping, the errata builds for a
non-ASCII title, and the reports show numbers and equations rather than Python reprs and file citations."""

from __future__ import annotations

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
LONG_FLOAT = re.compile(r"\d\.\d{9,}")  # a float printed with all its 17 digits


def _pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("spec", USER_KERNELS + tuple(KERNELS))
def test_audit_report_builds_for_every_kernel(spec, tmp_path):
    # sin(3r)/(3r) is not finite at 0: its numeric checks are skipped with no evidence (an empty itemize
    # broke LaTeX), so that one runs with engines on (skipped without running them); the rest exact only
    a = audit(spec, engines=spec == "sin(3*r)/(3*r)", examples=1)
    tex, pdf = write_report(a, tmp_path, compile=tex_available())
    text = tex.read_text()
    assert r"\cdot \cdot" not in text and "MATH.md" not in text
    evidence = text[text.index(r"\section*{Evidence}"):]
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
