"""Every PDF report is appendix-ready (issue 24.1): each kind (derivation, verification, errata, training,
kernel audit) compiles for a small input with no Overfull or Underfull box in its LaTeX log, and its text
holds no Python repr (Net(...), MLP(...), array(...), Params(...)) and no library internals (gufunc,
Traceback). One build per kind (module-scoped), from the command line as a user runs it, small sizes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from derivcheck.cli import main
from derivcheck.latex import tex_available

REPO = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.skipif(
    not tex_available() or shutil.which("pdftotext") is None,
    reason="latexmk/pdftotext not installed (CI installs TeX Live); the .tex is still rendered",
)

# reprs, library internals, and files the reader does not have (a report stands alone)
FORBIDDEN = ("Net(", "MLP(", "array(", "Params(", "gufunc", "Traceback", "MATH.md", "seeds/", "../shared")


def _built(out: Path, stem: str) -> Path:
    pdf = out / f"{stem}.pdf"
    assert pdf.exists(), f"no {pdf}"
    return pdf


@pytest.fixture(scope="module")
def derivation(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("derivation")
    assert main(["report", "--which", "derivation", "--net", "preset:note", "--no-proof", "--out", str(out)]) == 0
    return _built(out, "derivation")


@pytest.fixture(scope="module")
def verification(tmp_path_factory) -> Path:
    """A quick verify run, with one failure added so the failures section is typeset too."""
    out = tmp_path_factory.mktemp("verification")
    results = out / "results.json"
    assert main(["verify", "--quick", "--drawn", "1", "--engines", "manual", "--out", str(results)]) == 0
    r = json.loads(results.read_text())
    case = r["cases"][4]
    failure = {
        "engine": "manual",
        "quantity": "dZ",
        "message": "dZ of layer 2, entry [0, 1]: 0.1234 vs 0.1235 (manual vs symbolic), relative error 8.1e-04 > tolerance 1e-10",
        "case": case["id"],
        "net": case["net"],
        "reproduce": f"derivcheck verify --seed 0 --only {case['id']} --quick",
    }
    case.update({"pass": False, "failures": [failure]})
    r["failures"] = [failure]
    r["summary"].update(verdict="fail", failures=1)
    results.write_text(json.dumps(r))
    rc = main(
        ["report", "--which", "verification", "--results", str(results), "--bench", str(out / "none.json"), "--out", str(out)]
    )
    assert rc == 0
    return _built(out, "verification")


@pytest.fixture(scope="module")
def errata(tmp_path_factory) -> Path:
    """One claims file with a false formula whose product does not fit its shapes (NumPy's gufunc error)."""
    out = tmp_path_factory.mktemp("errata")
    claims = str(REPO / "claims" / "sigmoid_mlp_note_003.py")
    assert main(["claims", claims, "--cases", "10", "--no-prove", "--errata", str(out)]) == 1  # a claim is false
    return _built(out, "errata")


@pytest.fixture(scope="module")
def training(tmp_path_factory) -> Path:
    """A D = 2 net (preset bimt: free amplitudes, a wiring penalty), five iterations."""
    out = tmp_path_factory.mktemp("training")
    argv = ["train", "--net", "preset:bimt", "--iters", "5", "--quiet", "--report", str(out), "--out", str(out / "logs")]
    assert main(argv) == 0
    return _built(out, "training")


@pytest.fixture(scope="module")
def audit(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("audit")
    assert main(["audit-kernel", "tanh(r)", "--examples", "5", "--report", str(out)]) in (0, 1)  # tanh fails some checks
    return _built(out, "audit")


KINDS = ("derivation", "verification", "errata", "training", "audit")


@pytest.mark.parametrize("kind", KINDS)
def test_no_overfull_or_underfull_box(kind, request):
    pdf = request.getfixturevalue(kind)
    log = pdf.with_suffix(".log").read_text(errors="replace")
    boxes = [ln for ln in log.splitlines() if ln.startswith(("Overfull", "Underfull"))]
    assert not boxes, f"{kind}: {len(boxes)} bad boxes, e.g. {boxes[:3]}"


@pytest.mark.parametrize("kind", KINDS)
def test_no_repr_and_no_library_internals(kind, request):
    pdf = request.getfixturevalue(kind)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    found = [s for s in FORBIDDEN if s in text]
    assert not found, f"{kind}: {found} in the PDF text"


def test_contents_a_reader_needs(derivation, verification, errata, training):
    """The fixes are visible: nets as tables, failures in full, MATH.md's notation, numbers as numbers."""

    def text(pdf):
        return " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout.split())

    v = text(verification)
    assert "widths" in v and "kernel" in v and "2-2-2" in v and "1 FAIL" in v
    assert "Finding: dZ of layer 2" in v and "derivcheck verify --seed 0 --only" in v
    e = text(errata)
    assert "does not fit the shapes" in e and "Minimal counterexample" in e and "None" not in e
    assert "divided by 1" not in text(derivation)
    tex = derivation.with_suffix(".tex").read_text()
    assert "z^{1}_{1,1}" in tex and "z^{(1)}" not in tex
    training_tex = training.with_suffix(".tex").read_text()
    assert not re.search(r"\$[^$]*\de[-+]\d", training_tex)  # no 6.1e-17 in maths mode
    assert "in the plane ($D = 2$)" in training_tex
