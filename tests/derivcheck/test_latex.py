"""derivcheck.latex: one escaping function for every report, and a failed build that says why."""

import shutil
import string
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pylatexenc.latex2text import LatexNodes2Text

from derivcheck import latex
from derive import KERNELS

# printable ASCII (every LaTeX special included) and letters/symbols users put in titles and kernels
_TEXT = st.text(
    st.sampled_from(string.printable.replace("\r", "").replace("\x0b", "").replace("\x0c", "") + "ÜüéσλΔ—–·²³µ×"), max_size=60
)


_LITERALS = {
    r"{\textquotedbl}": '"',
    r"{\textquotesingle}": "'",
    r"{\textasciigrave}": "`",
    r"{\textbar}": "|",
    r"{\textperiodcentered}": "\u00b7",
}


def _typeset(tex: str) -> str:
    # latex2text does not know the text-mode quote and bar glyphs, and writes \textasciicircum as U+02C6;
    # everything else comes back as the character itself
    for macro, ch in _LITERALS.items():
        tex = tex.replace(macro, ch)
    return LatexNodes2Text().latex_to_text(tex).replace("\u02c6", "^")


@given(_TEXT)
def test_escaped_text_typesets_as_itself(text):
    assert _typeset(latex.escape(text)) == text


@given(st.text(max_size=40))
def test_any_unicode_escapes_to_balanced_ascii(text):
    out = latex.escape(text)
    assert out.isascii()
    depth = 0
    for i, ch in enumerate(out):  # braces balance, ignoring escaped ones (\{ \})
        if ch in "{}" and not (i and out[i - 1] == "\\"):
            depth += 1 if ch == "{" else -1
            assert depth >= 0
    assert depth == 0


def test_command_lines_stay_copyable():
    out = latex.escape("derivcheck verify --seed 0 --kernel 'exp(-r**2)' --- \"x\" `y` | z")
    assert "--" not in out and "''" not in out and "`" not in out.replace(r"\textasciigrave", "")


@pytest.mark.skipif(not latex.tex_available(), reason="needs latexmk and pdflatex")
def test_kernels_and_unicode_compile(tmp_path):
    texts = [
        *KERNELS,
        "-2*tanh(2.6*(r-0.43))",
        "tanh(1-r)",
        "sin(3*r)/(3*r)",
        "exp(-r**2/s**2)",
        'Über die Ableitung — σ², µ·×³ 50 % & $5 #1 {x} \\ ^ ~ 😀 "q" `b` | <>',
    ]
    body = "\n\n".join(latex.escape(t) for t in texts)
    tex = tmp_path / "t.tex"
    tex.write_text("\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\begin{document}\n" + body + "\n\\end{document}\n")
    pdf = latex.compile_pdf(tex)
    assert pdf is not None and pdf.stat().st_size > 0


@pytest.mark.skipif(not latex.tex_available(), reason="needs latexmk and pdflatex")
def test_failed_build_names_the_error_and_keeps_the_log(tmp_path):
    tex = tmp_path / "bad.tex"
    tex.write_text("\\documentclass{article}\n\\begin{document}\n\\undefinedmacro\n\\end{document}\n")
    with pytest.raises(latex.LatexError, match="Undefined control sequence") as info:
        latex.compile_pdf(tex)
    assert "latexmk" not in str(info.value).lower().split(":")[0]  # the error, not latexmk's banner
    assert (tmp_path / "bad.log").exists() and not (tmp_path / "bad.pdf").exists()


COMMAND = (
    "derivcheck report --which derivation --widths 3,4,2 --dim 2 --kernel 'exp(-r**2 / s**2)' --param s=0.8 "
    "--penalty '(k*(r-q0))**2' --penalty-param q0=0.5 --penalty-param k=2 --penalty-layers 2 --out reports/build"
)


def test_a_command_breaks_only_between_its_words():
    out = latex.command(COMMAND)
    assert r"\allowbreak" not in out
    assert "exp(-{}r**2~/~s**2)" in out  # a quoted space is a tie: the formula stays on one line
    assert len(out.split(" ")) == len(COMMAND.split(" ")) - 2


@pytest.mark.skipif(not latex.tex_available() or not shutil.which("pdftotext"), reason="needs TeX and pdftotext")
def test_a_reproducibility_box_command_copies_back_whole(tmp_path):
    # the templates' box, narrow: every printed line is whole words of the command
    tex = tmp_path / "t.tex"
    tex.write_text(
        "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage{textcomp}\n\\pagestyle{empty}\n\\begin{document}\n"
        "\\fbox{\\parbox{0.5\\linewidth}{\\small\\raggedright\n\\texttt{" + latex.command(COMMAND) + "}}}\n"
        "\\end{document}\n"
    )
    pdf = latex.compile_pdf(tex)
    assert pdf is not None
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    assert len(lines) > 3  # it did wrap
    assert " ".join(lines) == COMMAND
    words = COMMAND.replace("'exp(-r**2 / s**2)'", "'exp(-r**2/s**2)'").split()
    for line in lines:  # no line starts or ends inside a word
        assert set(line.replace(" / ", "/").split()) <= set(words), line
