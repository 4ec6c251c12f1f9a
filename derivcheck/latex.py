"""Render the jinja2 LaTeX templates (`reports/templates/`, package data) and compile them with latexmk.

Templates use LaTeX-friendly delimiters (``\\VAR{x}``, ``\\BLOCK{for ...}``) so braces stay LaTeX's.
The PDF is built in a private temp folder and moved into place, so an interrupted build never leaves
a half-written report.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import jinja2
from pylatexenc.latexencode import RULE_DICT, UnicodeToLatexConversionRule, UnicodeToLatexEncoder

from derivcheck.provenance import atomic_write_bytes, atomic_write_text

__all__ = [
    "LatexError",
    "TEMPLATES",
    "environment",
    "escape",
    "command",
    "prose",
    "number",
    "numbers",
    "render",
    "compile_pdf",
    "tex_available",
    "INSTALL_HINT",
]

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
    A word longer than 40 characters outside quotes (a path) may break after a "/", the line ending in
    a backslash (the shell's line continuation: it pastes back as one word)."""
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
    return " ".join(_long_word("~".join(escape(part) for part in w.split(" "))) for w in words if w)


#: a command word longer than this (a temp folder's path) may break after a "/"
_LONG_WORD = 40


def _long_word(word: str) -> str:
    """A long unquoted word (a path) may break after its slashes; the broken line ends in a backslash, the
    shell's line continuation, so the two printed lines still paste as one word."""
    if len(word) <= _LONG_WORD or "'" in word or '"' in word or "quote" in word or "~" in word:
        return word
    return word.replace("/", r"/\discretionary{\textbackslash}{}{}")


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
    env.filters["prose"] = prose
    env.filters["num"] = number
    env.filters["nums"] = numbers
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
        log = tmpd / tex_path.with_suffix(".log").name
        if log.exists():  # kept beside the .tex: its Overfull/Underfull lines are how a report's layout is checked
            atomic_write_text(tex_path.with_suffix(".log"), log.read_text(errors="replace"))
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


# ------------------------------------------------------------------------------------ prose with maths
# Notes in claims files are plain text that writes formulas in ASCII (W^(n) is N_n x N_(n-1), grad_w^l S,
# a_1 (1 - a_1)); `prose` typesets those formulas as maths and escapes the rest, so a note reads like the
# report's own typeset formulas.
_GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "lambda", "mu", "nu", "xi", "pi", "rho",
    "sigma", "tau", "phi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Phi",
    "Psi", "Omega",
}  # fmt: skip
_SCRIPT = r"(?:\([^()\s]*\)|\{[^{}\s]*\}|[A-Za-z0-9]+'?)"
_ATOM = re.compile(rf"([A-Za-z]+'?)((?:[_^]{_SCRIPT})+)('?)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_OPERATORS = {"=": "=", "+": "+", "-": "-", "x": r"\times", "*": r"\cdot", "/": "/"}


def _base(name: str) -> str:
    prime = "'" if name.endswith("'") else ""
    name = name.rstrip("'")
    if name == "grad":
        return r"\nabla" + prime
    if name in _GREEK:
        return "\\" + name + prime
    return (name if len(name) == 1 else rf"\mathrm{{{name}}}") + prime


def _atom_latex(word: str) -> str | None:
    """'W^(n)' -> 'W^{(n)}', 'N_(n-1)' -> 'N_{n-1}', 'grad_w^l' -> '\\nabla_{w}^{l}', 'y_hat' -> '\\hat{y}';
    None when `word` is not a variable with scripts."""
    m = _ATOM.fullmatch(word)
    if not m:
        return None
    base, out = _base(m.group(1)), ""
    for kind, script in re.findall(rf"([_^])({_SCRIPT})", m.group(2)):
        if kind == "_" and script == "hat":
            base = rf"\hat{{{base}}}"
            continue
        if script.startswith("{"):
            script = script[1:-1]
        elif kind == "_" and script.startswith("("):
            script = script[1:-1]
        out += f"{kind}{{{script}}}"
    return base + out + m.group(3)


def _unwrap(word: str) -> tuple[str, int, int]:
    """'(a_1' -> ('a_1', 1, 0), 'W^(n))' -> ('W^(n)', 0, 1): the parentheses that do not pair inside."""
    core, lead, trail = word, 0, 0
    while core.startswith("(") and core.count("(") > core.count(")"):
        core, lead = core[1:], lead + 1
    while core.endswith(")") and core.count(")") > core.count("("):
        core, trail = core[:-1], trail + 1
    return core, lead, trail


def _word_latex(word: str) -> str | None:
    """One word of a formula as maths (parentheses around it kept), or None."""
    core, lead, trail = _unwrap(word)
    if core in _OPERATORS and not lead and not trail:
        return _OPERATORS[core]
    body = _atom_latex(core)
    if body is None and (_NUMBER.fullmatch(core) or (len(core) == 1 and core.isupper())):
        body = core
    return None if body is None else "(" * lead + body + ")" * trail


def prose(text: object) -> str:
    """Plain text -> LaTeX: runs of words that form an ASCII formula (a variable with ^ or _ scripts, with
    the numbers, operators and single capitals around it) become inline maths; the rest is escaped.

    >>> prose("W^(n) is N_n x N_(n-1), as printed")
    '$W^{(n)}$ is $N_{n} \\\\times N_{n-1}$, as printed'
    """
    words = str(text).split(" ")
    out: list[str] = []
    i = 0
    while i < len(words):
        best = None  # the longest run from i that holds a variable, ends on an operand and balances ( )
        j, parts, has_atom = i, [], False
        while j < len(words):
            w = words[j]
            core, punct = (w[:-1], w[-1]) if w[-1:] in ",;:." and len(w) > 1 else (w, "")
            tex = _word_latex(core)
            if tex is None:
                break
            parts.append(tex)
            has_atom = has_atom or _ATOM.fullmatch(_unwrap(core)[0]) is not None
            j += 1
            joined = " ".join(parts)
            if has_atom and core not in _OPERATORS and joined.count("(") == joined.count(")"):
                best = (j, joined, punct)
            if punct:
                break
        if best is None:  # a lone variable keeps unpaired parentheses outside its maths: (grad_b S
            core, lead, trail = _unwrap(words[i].rstrip(",;:."))
            atom = _atom_latex(core)
            punct = words[i][len(core) + lead + trail :]
            out.append(f"{'(' * lead}${atom}${')' * trail}{escape(punct)}" if atom else escape(words[i]))
            i += 1
        else:
            j, joined, punct = best
            out.append(f"${joined}${escape(punct)}")
            i = j
    return " ".join(out)


def number(value: object, spec: str = ".3g") -> str:
    """A number typeset as a number, in text or maths: 6.1e-17 -> 6.1 x 10^-17 with a true minus sign
    (LaTeX maths would print "6.1e - 17"); None -> an en dash.

    >>> number(6.1e-17, ".2g")
    '\\\\ensuremath{6.1\\\\times 10^{-17}}'
    """
    if value is None:
        return "--"
    if isinstance(value, str):
        text = value
    else:
        text = format(value, spec)
    return _NUMBER_TOKEN.sub(lambda m: _number_latex(m.group(0)), text) if _NUMBER_TOKEN.fullmatch(text) else escape(text)


_NUMBER_TOKEN = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan")


def _number_latex(tok: str) -> str:
    if tok.lstrip("+-") == "inf":
        return r"\ensuremath{" + ("-" if tok.startswith("-") else "") + r"\infty}"
    if tok == "nan":
        return "NaN"
    mant, _, exp = tok.lower().partition("e")
    mant = mant.lstrip("+")
    if not exp:
        return rf"\ensuremath{{{mant}}}"
    e = int(exp)
    return rf"\ensuremath{{{mant}\times 10^{{{e}}}}}" if mant not in ("1", "-1") else rf"\ensuremath{{{mant[:-1]}10^{{{e}}}}}"


def numbers(text: object) -> str:
    """Plain text with its numbers typeset as numbers (`number`): '(tol 1.9e-13)' -> '(tol 1.9 x 10^-13)'."""
    out, last = [], 0
    s = str(text)
    for m in re.finditer(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])", s):
        out += [escape(s[last : m.start()]), _number_latex(m.group(0))]
        last = m.end()
    return "".join([*out, escape(s[last:])])
