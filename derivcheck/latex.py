"""Render jinja2 LaTeX templates from `reports/templates/` and compile them with latexmk.

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

from .provenance import atomic_write_bytes, atomic_write_text

__all__ = ["TEMPLATES", "environment", "escape", "render", "compile_pdf", "tex_available", "INSTALL_HINT"]

TEMPLATES = Path(__file__).resolve().parent.parent / "reports" / "templates"
INSTALL_HINT = ("TeX not found: wrote the .tex only; install TeX Live with `apt-get install -y texlive-latex-base "
                "texlive-latex-recommended texlive-latex-extra latexmk` to get the PDF")

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
            "-": "-{}"}  # -{} stops -- and --- becoming en/em dashes (command lines stay copyable)


def escape(text: object) -> str:
    """Escape plain text for LaTeX (not for math produced by sympy.latex)."""
    return "".join(_SPECIAL.get(ch, ch) for ch in str(text))


def environment(folder: Path = TEMPLATES) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        block_start_string=r"\BLOCK{", block_end_string="}",
        variable_start_string=r"\VAR{", variable_end_string="}",
        comment_start_string=r"\#{", comment_end_string="}",
        line_comment_prefix="%#",
        trim_blocks=True, lstrip_blocks=True, autoescape=False, undefined=jinja2.StrictUndefined,
    )
    env.filters["e"] = escape
    return env


def tex_available() -> bool:
    return shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None


def compile_pdf(tex_path: Path, extra_files: Sequence[Path] = (), timeout: float = 240) -> Path | None:
    """Compile `tex_path` with latexmk in a temp folder; move the PDF next to the .tex atomically.

    Returns the PDF path, or None (with the install hint on stderr) when TeX is absent.
    Raises RuntimeError with the first LaTeX error line when compilation fails.
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
            cwd=tmpd, capture_output=True, text=True, timeout=timeout)
        pdf = tmpd / tex_path.with_suffix(".pdf").name
        if proc.returncode != 0 or not pdf.exists():
            log = (tmpd / tex_path.with_suffix(".log").name)
            text = log.read_text(errors="replace") if log.exists() else proc.stdout
            first = next((ln for ln in text.splitlines() if ln.startswith("!") or ":error" in ln.lower()
                          or ".tex:" in ln), "see the .log")
            raise RuntimeError(f"LaTeX failed on {tex_path.name}: {first.strip()}")
        return atomic_write_bytes(tex_path.with_suffix(".pdf"), pdf.read_bytes())


def render(template: str, context: dict, out_dir: str | Path, stem: str, figures: Sequence[Path] = (),
           compile: bool = True) -> tuple[Path, Path | None]:
    """Render `template` with `context` to ``out_dir/stem.tex`` (atomically) and compile it.

    Args:
        template: file name in `reports/templates/` (e.g. ``"derivation.tex.j2"``).
        figures: image files the .tex includes by base name (copied into the build folder).

    Returns:
        (tex path, pdf path or None when TeX is absent or compile=False).
    """
    out_dir = Path(out_dir)
    text = environment().get_template(template).render(**context)
    tex = atomic_write_text(out_dir / f"{stem}.tex", text)
    pdf = compile_pdf(tex, list(figures)) if compile else None
    return tex, pdf
