"""Claims files: the printed-precision rule, file validation, the CLI, the pinned verdicts of every
catalog file, and the errata PDF."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from derivcheck import cli
from derivcheck.claims import REPO, build_errata, check_file, default_files
from derivcheck.claims.precision import FALSE, HOLDS, ROUNDING, judge_number, printed
from derive import Net, Params, SpecError
from numeric import autograd

H, R, F = HOLDS, ROUNDING, FALSE

# A change in any verdict is a finding: explain it (a fixed engine? a re-read of the note?) before
# updating this table.
PINNED = {
    "coordinate_note_000.py": {"000/eq4": F, "000/eq5-7": H, "000/eq8": F},
    "guide-2.7-single-neuron.toml": {"2.7/T2.1/4": H, "2.7/T2.1/5": R, "2.7/T2.1/7": R},
    "guide-2.7-two-layer.toml": {
        "2.7/T2.2/7": R,
        "2.7/T2.2/8": F,
        "2.7/T2.2/9": F,
        "2.7/T2.2/10": R,
        "2.7/T2.2/11": F,
        "2.7/T2.2/13": F,
        "2.7/T2.3/15": F,
        "2.7/T2.3/16": R,
        "2.7/T2.3/17": H,
        "2.7/T2.3/19": H,
        "2.7/T2.3/21": H,
    },
    "guide-2.8-three-layer.toml": {
        k: H
        for k in (
            "2.8/T2.4/4",
            "2.8/T2.4/5",
            "2.8/T2.4/8",
            "2.8/T2.4/9",
            "2.8/T2.4/12",
            "2.8/T2.4/13",
            "2.8/T2.4/15",
            "2.8/T2.5/16",
            "2.8/T2.5/17",
            "2.8/T2.5/18",
            "2.8/T2.5/20",
            "2.8/T2.5/22",
            "2.8/T2.5/24",
            "2.8/T2.6/25",
            "2.8/T2.6/26",
            "2.8/T2.6/28",
            "2.8/T2.6/30",
            "2.8/T2.6/32",
            "2.8/T2.7/33",
            "2.8/T2.7/34",
            "2.8/T2.7/36",
            "2.8/T2.7/38",
        )
    },
    "guide-3.5-jacobians.toml": {
        "3.5.3/z1": H,
        "3.5.3/a1": H,
        "3.5.3/z2": H,
        "3.5.3/a2": H,
        "3.5.3/z3": H,
        "3.5.3/yhat": H,
        "3.5.4/dL": H,
        "3.5.4/sig'": F,
        "3.5.4/tanh'": R,
        "3.5.4/relu'": H,
        "3.5.5/J1": H,
        "3.5.5/J2": H,
        "3.5.5/J3": H,
        "3.5.6/dL/da2": F,
        "3.5.6/dL/da1": F,
        "3.5.6/dL/dx": F,
    },
    "guide-3.6-chain-rule.toml": {
        "3.6.2/z1": H,
        "3.6.2/z2": H,
        "3.6.2/a2": H,
        "3.6.2/z3": H,
        "3.6.2/yhat": H,
        "3.6.2/dL": H,
        "3.6.2/sig'": H,
        "3.6.2/tanh'": H,
        "3.6.3/1": F,
        "3.6.3/2": F,
        "3.6.3/3": F,
        "3.6.3/4": H,
        "3.6.3/5": H,
        "3.6.3/6": H,
    },
    "guide-3.9-update.toml": {
        **{
            k: H
            for k in (
                "3.9/T3.1/2",
                "3.9/T3.1/3",
                "3.9/T3.1/4",
                "3.9/T3.1/5",
                "3.9/T3.1/6",
                "3.9/T3.1/7",
                "3.9/T3.1/9",
                "3.9.5/A",
                "3.9.5/B",
                "3.9.5/C",
                "3.9.5/w3",
                "3.9.5/b3",
                "3.9.5/D",
                "3.9.5/E",
                "3.9.5/F",
                "3.9.5/w2",
                "3.9.5/b2",
                "3.9.5/G",
                "3.9.5/I",
                "3.9.5/w1",
                "3.9.5/b1",
                "3.9.7/w1+",
                "3.9.7/b1+",
                "3.9.7/w2+",
                "3.9.7/b2+",
                "3.9.7/w3+",
                "3.9.7/b3+",
                "T3.2/12",
                "T3.2/24",
            )
        },
        "T3.2/14": R,
        "T3.2/19": R,
    },
    "guide_formulas_001.py": {
        k: H
        for k in (
            "001/2.9-delta3",
            "001/2.9-delta2",
            "001/2.9-delta1",
            "001/2.9-dW",
            "001/2.9-db",
            "001/2.11.2-dW",
            "001/2.11.2-db",
            "001/3.2-input",
            "001/3.4-vjp",
            "001/3.10-deltaL",
            "001/3.10-delta",
            "001/3.12.4-dA",
        )
    },
    "hilbert_note_002.py": {"002/P1.2-b": H, "002/P1.2-w": H, "002/P1.2-prod": F, "002/C1.2.1-b": H, "002/C1.2.1-w": F},
    "sigmoid_mlp_note_003.py": {"003/2.1-sigma'": H, "003/3.2-deltaL": H, "003/3.3-delta": F, "003/3.4-dW": H, "003/3.4-db": H},
}


def test_every_catalog_file_is_pinned():
    assert sorted(p.name for p in default_files()) == sorted(PINNED)


@pytest.mark.parametrize("name", sorted(PINNED))
def test_catalog_verdicts_are_pinned(name):
    doc = check_file(REPO / "claims" / name, seed=0, cases=25, prove=False)
    assert {r.id: r.verdict for r in doc.results} == PINNED[name]
    for r in doc.results:
        if r.kind == "formula" and r.verdict == FALSE:
            assert r.counterexample and r.command.endswith(f"--only {r.id} --seed 0")


@pytest.mark.parametrize(
    "text,value,unit",
    [("0.000531", 0.000531, 1e-6), ("4.16e-7", 4.16e-7, 1e-9), ("-0.035995", -0.035995, 1e-6), ("2.0", 2.0, 0.1), ("7", 7.0, 1.0)],
)
def test_printed_precision(text, value, unit):
    v, u = printed(text)
    assert v == value and u == pytest.approx(unit)


def test_judge_number():
    assert judge_number("0.000531", 0.0005314, 1.0, None)[0] == HOLDS
    assert judge_number("0.000531", 0.0005316, 1.0, None)[0] == ROUNDING  # last digit, carried rounding
    assert judge_number("0.000531", 0.0005316, 0.0, None)[0] == FALSE  # no allowance
    assert judge_number("0.000531", 0.000963, 1.0, None)[0] == FALSE
    assert judge_number("0.5", 0.52, 1.0, 0.05)[0] == HOLDS  # a file tolerance overrides the printed digits


def _write(tmp_path, body: str) -> Path:
    p = tmp_path / "c.toml"
    p.write_text(body)
    return p


NET = """
[network]
kind = "mlp"
widths = [1, 1]
activations = ["sigmoid"]
weights = [[[3.0]]]
biases = [[1.0]]
[data]
x = [[2.0]]
y = [[1.0]]
"""


@pytest.mark.parametrize(
    "claim,message",
    [
        ('quantity = "dQ"\nlayer = 2\nvalue = "1"', "unknown quantity"),
        ('quantity = "dW"\nvalue = "1"', "needs a layer"),
        ('quantity = "W+"\nlayer = 2\nvalue = "1"', "learning rate"),
        ('quantity = "dW"\nlayer = 7\nvalue = "1"', "layer 7 does not exist"),
        ('quantity = "dW"\nlayer = 2\nvalue = ["1", "2"]', "gives 2 numbers"),
        ('quantity = "dW"\nlayer = 2\nvalue = "abc"', "not a number"),
        ('quantity = "dW"\nlayer = 2\nvalue = "nan"', "not a finite number"),
        ('quantity = "dW"\nlayer = 2\nvalue = "-inf"', "not a finite number"),
        # out of float range: "1e400" was judged "holds" against any true value (inf <= inf/2), "7e-400" crashed
        ('quantity = "dW"\nlayer = 2\nvalue = "1e400"', "outside the float64 range"),
        ('quantity = "dW"\nlayer = 2\nvalue = "-5e309"', "outside the float64 range"),
        ('quantity = "dW"\nlayer = 2\nvalue = "7e-400"', "outside the float64 range"),
        # Decimal alone reads these as 70 and 7
        ('quantity = "dW"\nlayer = 2\nvalue = "7_0"', "not a number"),
        ('quantity = "dW"\nlayer = 2\nvalue = "\uff17"', "not a number"),
        ('quantity = "dZ"\nlayer = 2\nvalue = "1"', "network is not spatial"),
        ('quantity = "R"\nlayer = 2\nvalue = "1"', "network is not spatial"),
    ],
)
def test_bad_claims_file_is_one_line_spec_error(tmp_path, claim, message):
    p = _write(tmp_path, NET + '[[claim]]\nid = "c"\n' + claim + "\n")
    with pytest.raises(SpecError, match=message):
        check_file(p)


def test_bias_update_claim_without_biases_is_a_spec_error(tmp_path):
    body = NET.replace("biases = [[1.0]]\n", "").replace("[data]\n", "[data]\nlearning_rate = 0.5\n")
    p = _write(tmp_path, body + '[[claim]]\nid = "c"\nquantity = "b+"\nlayer = 2\nvalue = "1"\n')
    with pytest.raises(SpecError, match="no biases"):
        check_file(p)


def test_invalid_toml_and_exit_code_2(tmp_path, capsys):
    p = _write(tmp_path, "[network\n")
    assert cli.main(["claims", str(p)]) == 2
    assert "not valid TOML" in capsys.readouterr().err


def test_cli_exit_codes(tmp_path, capsys):
    good = _write(tmp_path, NET + '[[claim]]\nid = "z"\nquantity = "z"\nlayer = 2\nvalue = "7"\n')
    assert cli.main(["claims", str(good)]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text(NET + '[[claim]]\nid = "z"\nquantity = "z"\nlayer = 2\nvalue = "7.5"\n')
    assert cli.main(["claims", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "false" in out and "7.5" in out


def test_spatial_worked_numbers_checked_against_the_torch_engine(tmp_path):
    net = Net((2, 2, 1), dim=2, kernel="gaussian", hidden="tanh", loss="sse_half")
    Z = [np.array([[0.1, 0.2], [-0.3, 0.4]]), np.array([[0.5, -0.1], [0.0, 0.3]]), np.array([[0.2, 0.2]])]
    X, Y = np.array([[1.0, -0.5]]), np.array([[0.25]])
    t = autograd.gradients(net, Params(Z=Z), X, Y)  # an independent engine writes the "document"
    fmt = lambda a: [[f"{v:.8f}" for v in row] for row in a]  # noqa: E731
    body = f"""
[network]
kind = "spatial"
widths = [2, 2, 1]
dim = 2
kernel = "gaussian"
hidden = "tanh"
loss = "sse_half"
coordinates = {[z.tolist() for z in Z]}
[data]
x = {X.tolist()}
y = {Y.tolist()}
learning_rate = 0.5
[[claim]]
id = "loss"
quantity = "loss"
value = "{t.loss:.10f}"
[[claim]]
id = "dZ1"
quantity = "dZ"
layer = 1
value = {fmt(t.dZ[0])}
[[claim]]
id = "Z2+"
quantity = "Z+"
layer = 2
value = {fmt(Z[1] - 0.5 * t.dZ[1])}
[[claim]]
id = "wrong"
quantity = "dZ"
layer = 3
value = {fmt(-t.dZ[2])}
"""
    doc = check_file(_write(tmp_path, body))
    assert {r.id: r.verdict for r in doc.results} == {"loss": H, "dZ1": H, "Z2+": H, "wrong": F}


def test_errata_pdf_lists_the_verdicts(tmp_path):
    if shutil.which("latexmk") is None or shutil.which("pdftotext") is None:
        pytest.skip("latexmk/pdftotext not installed (CI installs TeX Live); the .tex is still rendered")
    files = [REPO / "claims" / n for n in ("guide-3.5-jacobians.toml", "sigmoid_mlp_note_003.py")]
    docs = [check_file(f, cases=25, prove=False) for f in files]
    tex, pdf = build_errata(docs, tmp_path, argv=["claims", "--errata", str(tmp_path)])
    assert tex.exists() and pdf is not None and pdf.exists()
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "FALSE" in text and "HOLDS" in text and "HOLDS TO ROUNDING" in text
    assert "0.000531" in text and "3.5.6/dL/dx" in text and "003/3.3-delta" in text
    assert "Minimal counterexample" in text


def test_check_files_says_how_far_it_is_a_line_per_file_when_piped(capsys):
    """A catalog run takes a minute or more: piped (no terminal, so no bar), a line per file on stderr as it
    ends, none without progress=True (the library call); stdout stays the table's."""
    from derivcheck.claims import check_files

    files = [REPO / "claims" / "guide-2.7-single-neuron.toml", REPO / "claims" / "guide-2.7-two-layer.toml"]
    docs = check_files(files, progress=True)
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and len(lines) == 2, err
    assert lines[0].startswith("claims 1/2: guide-2.7-single-neuron.toml: 3 claims, 0 false (")
    second = f"claims 2/2: guide-2.7-two-layer.toml: {len(docs[1].results)} claims, {len(docs[1].failed)} false ("
    assert lines[1].startswith(second)
    check_files(files[:1])
    assert capsys.readouterr().err == ""
