import json
import shutil
import subprocess
from types import SimpleNamespace

import pytest

from derivcheck import report, verify
from derivcheck.latex import escape
from derive import SpecError

needs_tex = pytest.mark.skipif(
    shutil.which("latexmk") is None or shutil.which("pdftotext") is None,
    reason="TeX Live / poppler not installed (CI installs them in .ci/run)",
)


def _text(pdf):
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("verify") / "results.json"
    args = SimpleNamespace(
        quick=True, seed=0, engines="manual,torch-cpu,fd,taylor", drawn=0, only=None, out=str(out), cases=None, max_seconds=None
    )
    assert verify.run(args) == 0
    return out


@needs_tex
def test_verification_report_pdf_states_the_verdict(results, tmp_path):
    tex, pdf = report.verification_report(results, tmp_path)
    text = _text(pdf)
    assert "Verdict: ALL CHECKS PASS" in text
    assert "Seed: 0" in text and "derivcheck verify" in text  # reproducibility box
    assert "manual" in text and "torch-cpu" in text
    assert (tmp_path / "ulp_manual.pdf").exists()


@needs_tex
def test_verification_report_shows_failures(results, tmp_path):
    data = json.loads(results.read_text())
    data["summary"]["verdict"] = "fail"
    data["failures"] = [
        {
            "case": "m001",
            "net": "Net(...)",
            "engine": "manual",
            "quantity": "dZ",
            "message": "dZ of layer 2, node 0, dim 1 (manual vs ground truth): 1.0 vs 2.0",
            "reproduce": "derivcheck verify --seed 0 --only m001",
        }
    ]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    _, pdf = report.verification_report(bad, tmp_path)
    text = _text(pdf)
    assert "FAILURES FOUND" in text and "--only m001" in text


@needs_tex
def test_derivation_report_proves_eq8(tmp_path):
    tex, pdf = report.derivation_report(tmp_path)
    text = _text(pdf)
    assert "proved equal" in text and "Hessian block" in text
    assert r"\begin{dmath*}" in tex.read_text()  # typeset from SymPy LaTeX, not raw strings


@needs_tex
def test_derivation_report_of_a_net_with_free_amplitudes_and_penalties(tmp_path):
    """The widened model: J = L + penalties typeset with each term's rho, c and partials, the amplitude
    section with formula (T), and one verdict covering (C) and (T), proved."""
    from derive import Net

    net = Net(
        (2, 2, 1),
        dim=2,
        kernel="1",
        amplitudes="free",
        loss="mse_half",
        penalties=(
            {"rho": "abs(w)*r", "reduce": "mean", "scale": 0.01},
            {"rho": "(s*(r-q0))**2", "params": {"s": 6.1, "q0": 0.433}},
        ),
    )
    tex, pdf = report.derivation_report(tmp_path, net=net)
    src, text = tex.read_text(), _text(pdf)
    assert r"\mathcal J=\mathcal L+\sum_t" in src and r"\frac{1}{600}" in src  # c = 0.01 / 6 edges, exact
    assert "Amplitude gradients" in text and "(T)" in text
    assert "The gradient formulas (C) and (T) and the exact gradient are proved equal." in text
    assert "for all 10 coordinates, and the amplitude-gradient formula (T)" in " ".join(text.split())


def test_tex_only_when_asked(results, tmp_path):
    tex, pdf = report.verification_report(results, tmp_path, compile=False)
    assert pdf is None and tex.read_text().startswith("\\documentclass")


def test_missing_or_foreign_results_are_bad_input(tmp_path):
    with pytest.raises(SpecError, match="does not exist"):
        report.verification_report(tmp_path / "nope.json", tmp_path)
    (tmp_path / "x.json").write_text('{"schema": "other"}')
    with pytest.raises(SpecError, match="schema"):
        report.verification_report(tmp_path / "x.json", tmp_path)


def _bench_json(path):
    rows = [
        {"width": w, "grad_s": 1e-6 * w**2, "hvp_s": 2e-6 * w**2, "grad_bytes": 8 * w**2, "hvp_bytes": 16 * w**2}
        for w in (128, 256, 512)
    ]
    targets = [
        {"id": "gradient.vs_floor", "what": "", "measured": 1.6, "unit": "x", "target": "<= 1.3", "pass": False, "details": {}},
        {"id": "scaling.grad_s", "what": "", "measured": 2.0, "unit": "exponent", "target": "~2", "pass": True, "details": {}},
        {
            "id": "cuda.throughput",
            "what": "",
            "measured": None,
            "unit": "samples/s",
            "target": "recorded",
            "pass": None,
            "details": {"skipped": "no CUDA"},
        },
    ]
    path.write_text(
        json.dumps(
            {
                "provenance": {"command": "python -m derivcheck.bench --out x.json", "created": "2026-11-23"},
                "config": {"quick": False},
                "targets": targets,
                "sections": {
                    "scaling": {"rows": rows, "exponents": {k: 2.0 for k in ("grad_s", "hvp_s", "grad_bytes", "hvp_bytes")}}
                },
            }
        )
    )
    return path


def test_verification_report_has_the_bench_targets_and_scaling_plot(results, tmp_path):
    bench = _bench_json(tmp_path / "bench.json")
    tex, _ = report.verification_report(results, tmp_path / "out", compile=False, bench_path=bench)
    text = tex.read_text()
    e = escape  # the one escaping function of the reports
    assert f"{e('gradient.vs_floor')} & 1.6 x & {e('<= 1.3')} & " + r"\textcolor{red}{FAIL}" in text
    assert f"{e('scaling.grad_s')} & 2 exponent & {e('~2')} & pass" in text
    assert "cuda.throughput & -- samples/s" in text and "skipped" in text
    assert r"\includegraphics[width=0.95\linewidth]{scaling.pdf}" in text
    assert (tmp_path / "out" / "scaling.pdf").stat().st_size > 1000


def test_verification_report_says_how_to_get_bench_results(results, tmp_path):
    tex, _ = report.verification_report(results, tmp_path, compile=False, bench_path=tmp_path / "none.json")
    assert "No bench results were found: run \\texttt{make bench}" in tex.read_text()


def test_a_bad_results_file_is_refused_before_any_report_is_built(tmp_path, capsys):
    """`--which derivation,verification` with a missing results file: one line, exit 2, at once (the
    derivation is not built first, then thrown away); a folder given as the results file likewise."""
    from derivcheck import cli

    for bad in (tmp_path / "missing.json", tmp_path):
        rc = cli.main(
            ["report", "--which", "derivation,verification", "--results", str(bad), "--no-pdf", "--out", str(tmp_path / "o")]
        )
        err = capsys.readouterr().err
        assert rc == 2 and len(err.strip().splitlines()) == 1 and "results file" in err
        assert not (tmp_path / "o" / "derivation.tex").exists()


def test_a_missing_results_file_names_the_command_that_writes_it(tmp_path, capsys, monkeypatch):
    """A new user's `derivcheck report` in an empty folder said "run `derivcheck verify --out FILE` first",
    after which report still read reports/build/results.json: the fix names the path it reads (issue 24)."""
    from derivcheck import cli

    monkeypatch.chdir(tmp_path)
    assert cli.main(["report", "--which", "verification", "--no-pdf"]) == 2
    err = capsys.readouterr().err
    assert "run `derivcheck verify --out reports/build/results.json` first" in err and "--results FILE" in err
