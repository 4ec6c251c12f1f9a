"""Render the jinja2 LaTeX templates (`reports/templates/`, package data) and compile them with latexmk.

Templates use LaTeX-friendly delimiters (``\\VAR{x}``, ``\\BLOCK{for ...}``) so braces stay LaTeX's.
The PDF is built in a private temp folder and moved into place, so an interrupted build never leaves
a half-written report.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import jinja2
from pylatexenc.latexencode import RULE_DICT, UnicodeToLatexConversionRule, UnicodeToLatexEncoder

from derivcheck.provenance import atomic_write_bytes, atomic_write_text

__all__ = ["LatexError", "TEMPLATES", "environment", "escape", "command", "render", "compile_pdf", "tex_available", "INSTALL_HINT"]

# The jinja2 templates of every report: reports/templates in a source tree, package data when installed
# (derivcheck/templates links to reports/templates; pyproject ships it).
TEMPLATES = ("derivcheck", "templates")
INSTALL_HINT = (
    "TeX not found: wrote the .tex only; install TeX Live with `apt-get install -y texlive-latex-base "
    "texlive-latex-recommended texlive-latex-extra latexmk` to get the PDF"
)

# pylatexenc maps every character LaTeX treats specially, and non-ASCII text (Ü, σ, —), to LaTeX; characters
# with no LaTeX form (emoji) become "?" rather than breaking the build.
# Quotes, backquote and bar get their text-mode glyphs: typeset as they are, LaTeX would print curly quotes
# and (in OT1) a dash, and a command line copied from a report would not run.
_LITERAL = UnicodeToLatexConversionRule(
    rule_type=RULE_DICT,
    rule={ord('"'): r"\textquotedbl", ord("'"): r"\textquotesingle", ord("`"): r"\textasciigrave", ord("|"): r"\textbar"},
)
_ENCODER = UnicodeToLatexEncoder(
    conversion_rules=[_LITERAL, "defaults"],
    unknown_char_policy="replace",
    unknown_char_warning=False,
    replacement_latex_protection="braces-all",
)


def escape(text: object) -> str:
    """Plain text -> LaTeX that typesets as that text (not for math produced by sympy.latex).

    The one escaping function of every report. Hyphens are split (-{}) so "--" and "---" stay two and
    three hyphens: command lines in the reports stay copyable.

    >>> escape("s_1 = 50% of r**2 -- ok")
    's{\\_}1 = 50{\\%} of r**2 -{}-{} ok'
    """
    return _ENCODER.unicode_to_latex(str(text)).replace("-", "-{}")


def command(text: object) -> str:
    """A command line for \\texttt: escaped, breaking only at the spaces between its words (a
    \\texttt space is an ordinary breakable space, and typewriter fonts never hyphenate); a space
    inside quotes is a tie (~), so a quoted formula stays on one line. Each printed line is whole
    words: a break after "=" or "/" (--penalty-param q0= / 0.5) pasted into a shell as two words.
    A single word wider than the frame runs past its edge rather than being cut."""
    words, quote, word = [], "", ""
    for ch in str(text):
        if ch in "'\"" and quote in ("", ch):
            quote = "" if quote else ch
        if ch.isspace() and not quote:
            words.append(word)
            word = ""
        else:
            word += ch
    words.append(word)
    return " ".join("~".join(escape(part) for part in w.split(" ")) for w in words if w)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(*TEMPLATES),
        block_start_string=r"\BLOCK{",
        block_end_string="}",
        variable_start_string=r"\VAR{",
        variable_end_string="}",
        comment_start_string=r"\#{",
        comment_end_string="}",
        line_comment_prefix="%#",
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["e"] = escape
    env.filters["cmd"] = command
    return env


class LatexError(RuntimeError):
    """latexmk failed: the message holds the first error line of the log, kept next to the .tex."""


def tex_available() -> bool:
    return shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None


def compile_pdf(tex_path: Path, extra_files: Sequence[Path] = (), timeout: float = 240) -> Path | None:
    """Compile `tex_path` with latexmk in a temp folder; move the PDF next to the .tex atomically.

    Returns the PDF path, or None (with the install hint on stderr) when TeX is absent.
    Raises LatexError with the first LaTeX error line when compilation fails (the log is kept beside the .tex).
    """
    tex_path = Path(tex_path)
    if not tex_available():
        print(INSTALL_HINT, file=sys.stderr)
        return None
    with tempfile.TemporaryDirectory(prefix="derivcheck-tex-") as tmp:
        tmpd = Path(tmp)
        shutil.copy(tex_path, tmpd / tex_path.name)
        for f in extra_files:
            shutil.copy(f, tmpd / Path(f).name)
        proc = subprocess.run(
            ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error", tex_path.name],
            cwd=tmpd,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        pdf = tmpd / tex_path.with_suffix(".pdf").name
        if proc.returncode != 0 or not pdf.exists():
            log = tmpd / tex_path.with_suffix(".log").name
            text = log.read_text(errors="replace") if log.exists() else proc.stdout + proc.stderr
            kept = atomic_write_text(tex_path.with_suffix(".log"), text)  # the temp folder goes; the log stays
            first = next((ln for ln in text.splitlines() if ln.startswith("!") or ".tex:" in ln), None)
            raise LatexError(f"LaTeX failed on {tex_path.name}: {(first or 'no error line in the log').strip()} (full log: {kept})")
        return atomic_write_bytes(tex_path.with_suffix(".pdf"), pdf.read_bytes())


def render(
    template: str, context: dict, out_dir: str | Path, stem: str, figures: Sequence[Path] = (), compile: bool = True
) -> tuple[Path, Path | None]:
    """Render `template` with `context` to ``out_dir/stem.tex`` (atomically) and compile it.

    Args:
        template: file name in the package's templates (``reports/templates/`` in a source tree), e.g.
            ``"derivation.tex.j2"``.
        figures: image files the .tex includes by base name (copied into the build folder).

    Returns:
        (tex path, pdf path or None when TeX is absent or compile=False).
    """
    out_dir = Path(out_dir)
    text = environment().get_template(template).render(**context)
    tex = atomic_write_text(out_dir / f"{stem}.tex", text)
    pdf = compile_pdf(tex, list(figures)) if compile else None
    return tex, pdf
