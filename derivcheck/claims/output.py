"""Output of `derivcheck claims`: the verdict table (terminal) and the LaTeX errata report."""

from __future__ import annotations

import re
from pathlib import Path

from derivcheck import provenance
from derivcheck.claims.precision import FALSE, HOLDS, ROUNDING
from derivcheck.claims.result import REPO, DocumentResult

__all__ = ["print_table", "build_errata"]


def print_table(docs: list[DocumentResult], file=None) -> None:
    from rich.markup import escape
    from rich.table import Table

    from derivcheck.tables import console as make_console
    from derivcheck.tables import show, wrap_lines

    console = make_console(file)
    style = {HOLDS: "green", ROUNDING: "yellow", FALSE: "bold red"}
    for d in docs:
        if not d.results:  # nothing selected in it (--only): no empty table
            continue
        # the file names the document (several share a title); escaped, as rich took "[name.py]" for markup
        t = Table(title=escape(f"{d.title} [{Path(d.path).name}]"), title_justify="left")
        for col in ("claim", "where", "quantity", "verdict", "claimed", "true"):
            t.add_column(col, overflow="fold")
        for r in d.results:
            t.add_row(r.id, r.where, r.quantity, f"[{style[r.verdict]}]{r.verdict}[/]", r.claimed, r.true)
        show(t, con=console)
        for r in d.results:
            if r.kind == "formula":
                line = f"  {r.id}: {r.evidence}"
                if r.counterexample:
                    ce = r.counterexample
                    message = re.sub(r"\bNone\b", "undefined", ce["message"])  # no value: not Python's None (as the errata)
                    line += f"; smallest case: {_net(ce['net'])}: {message}; reproduce: {r.command}"
            elif r.finding:  # a false worked number: its finding (entry, both values, error, tolerance, command)
                line = f"  {r.id}: {r.finding}"
            else:
                continue
            text, sep, command = line.partition("; reproduce: ")
            console.print(wrap_lines(text, console.width), highlight=False, markup=False, soft_wrap=True)  # no blank at a fold
            if sep:  # folded only between words, with shell continuations: it pastes and runs as printed
                console.print(_shell_lines(f"reproduce: {command}", console.width), highlight=False, markup=False, soft_wrap=True)
    n = sum(len(d.results) for d in docs)
    bad = sum(len(d.failed) for d in docs)
    console.print(f"{n} claims, {bad} false, {sum(r.verdict == ROUNDING for d in docs for r in d.results)} hold only to rounding")


def _net(desc: str) -> str:
    """A counterexample's net (kept as its description) in words, as every verb names nets."""
    from derivcheck.report.derivation import net_words
    from derivcheck.report.nets import parse_describe

    spec = parse_describe(desc)
    return desc if spec is None else f"the net of {net_words(spec)}"


def _shell_lines(text: str, width: int, indent: str = "    ") -> str:
    """`text` folded between words to `width` columns, each broken line ending in " \\" (a shell line
    continuation); a word longer than the width (an installed catalog's path) stands whole on its line."""
    lines, line = [], indent
    for word in text.split(" "):
        if line.strip() and len(line) + 1 + len(word) + 2 > width:
            lines.append(line + " \\")
            line = indent + "  " + word
        else:
            line = f"{line} {word}" if line.strip() else line + word
    return "\n".join([*lines, line])


# ---------------------------------------------------------------------------------------------- errata


def _tex_num(s: str) -> str:
    from derivcheck.latex import escape

    return escape(s)


def _matrix(a) -> str:
    """A nested list of numbers as a small bracketed matrix (a vector as one row)."""
    rows = a if a and isinstance(a[0], list) else [a]
    body = r" \\ ".join(" & ".join(f"{float(v):g}" for v in row) for row in rows)
    return rf"\left[\begin{{smallmatrix}}{body}\end{{smallmatrix}}\right]"


def build_errata(
    docs: list[DocumentResult],
    out_dir: str | Path = REPO / "reports" / "build",
    *,
    seed: int = 0,
    argv: list[str] | None = None,
    compile: bool = True,
):
    """Render the errata report (reports/templates/errata.tex.j2) to ``out_dir/errata.tex`` and PDF.

    Returns:
        (tex path, pdf path or None when TeX is absent).
    """
    from derivcheck.latex import escape, render
    from derivcheck.report.nets import COLUMNS as NET_COLUMNS
    from derivcheck.report.nets import net_row, parse_describe

    def ce_context(ce) -> dict:
        """A counterexample typeset: its net as a table row, its parameters and data as matrices."""
        if not ce:
            return {"ce_net": None, "ce_arrays": [], "ce_message": ""}
        spec = parse_describe(ce["net"])
        cells = list(zip(NET_COLUMNS, net_row(spec))) if spec else [("network", escape(ce["net"]))]
        cells = [(k, v) for k, v in cells if v not in ("--", "none")]
        arrays = []
        for k, per_layer in ce["params"].items():
            first = 1 if k == "Z" else 2  # Z_1..Z_L; W_2..W_L and b_2..b_L
            arrays += [f"${k}_{{{first + i}}}={_matrix(a)}$" for i, a in enumerate(per_layer)]
        arrays += [f"$X={_matrix(ce['X'])}$", f"$Y={_matrix(ce['Y'])}$"]
        message = re.sub(r"\bNone\b", "undefined", ce["message"])  # the finding's Python None: no value
        return {"ce_net": cells, "ce_arrays": arrays, "ce_message": escape(message)}

    grouped: dict[str, list[DocumentResult]] = {}
    for d in docs:  # one section per document, whatever the number of claims files
        grouped.setdefault(d.doc_id, []).append(d)
    context = {
        "provenance": provenance.provenance(seed=seed, argv=argv),
        "documents": [
            {
                "title": ds[0].title.replace(" (formulas)", ""),
                "source": ds[0].source,
                "file": ", ".join(Path(d.path).name for d in ds),
                "note": " ".join(d.note for d in ds if d.note),
                "n": sum(len(d.results) for d in ds),
                "n_false": sum(len(d.failed) for d in ds),
                "claims": [{**r.__dict__, **ce_context(r.counterexample)} for d in ds for r in d.results],
            }
            for ds in grouped.values()
        ],
        "total": sum(len(d.results) for d in docs),
        "total_false": sum(len(d.failed) for d in docs),
    }
    return render("errata.tex.j2", context, out_dir, "errata", compile=compile)
