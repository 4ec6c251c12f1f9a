"""Output of `derivcheck claims`: the verdict table (terminal) and the LaTeX errata report."""

from __future__ import annotations

import json
from pathlib import Path

from derivcheck import provenance
from derivcheck.claims.precision import FALSE, HOLDS, ROUNDING
from derivcheck.claims.result import REPO, DocumentResult

__all__ = ["print_table", "build_errata"]


def print_table(docs: list[DocumentResult], file=None) -> None:
    from rich.table import Table

    from derivcheck.tables import console as make_console
    from derivcheck.tables import show

    console = make_console(file)
    style = {HOLDS: "green", ROUNDING: "yellow", FALSE: "bold red"}
    for d in docs:
        t = Table(title=f"{d.title} [{Path(d.path).name}]", title_justify="left")
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
                    line += f"; smallest case {ce['net']}: {ce['message']}; reproduce: {r.command}"
                console.print(line, highlight=False, markup=False)
            elif r.finding:  # a false worked number: its finding (entry, both values, error, tolerance, command)
                console.print(f"  {r.id}: {r.finding}", highlight=False, markup=False)
    n = sum(len(d.results) for d in docs)
    bad = sum(len(d.failed) for d in docs)
    console.print(f"{n} claims, {bad} false, {sum(r.verdict == ROUNDING for d in docs for r in d.results)} hold only to rounding")


# ---------------------------------------------------------------------------------------------- errata


def _tex_num(s: str) -> str:
    from derivcheck.latex import escape

    return escape(s)


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
    from derivcheck.latex import render

    def ce_text(ce):
        if not ce:
            return ""
        parts = [f"network {ce['net']}"]
        for k, v in ce["params"].items():
            parts.append(f"{k} = {json.dumps(v)}")
        parts += [f"X = {json.dumps(ce['X'])}", f"Y = {json.dumps(ce['Y'])}", ce["message"]]
        return "; ".join(parts)

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
                "claims": [{**r.__dict__, "ce_text": ce_text(r.counterexample)} for d in ds for r in d.results],
            }
            for ds in grouped.values()
        ],
        "total": sum(len(d.results) for d in docs),
        "total_false": sum(len(d.failed) for d in docs),
    }
    return render("errata.tex.j2", context, out_dir, "errata", compile=compile)
