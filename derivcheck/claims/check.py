"""Checking claims files: a document's worked numbers (TOML, `derivcheck.claims.file`) against the
manual engine (derivcheck.claims.worked) and its formulas (Python modules defining ``DOCUMENT`` and
``CLAIMS``, derivcheck.claims.formulas), each claim's outcome a `Result` and each file's a
`DocumentResult` (derivcheck.claims.result). Formula files are code: they are imported, like a test
module. The names of those modules are re-exported here."""

from __future__ import annotations

from pathlib import Path

from derivcheck.claims.file import load_worked
from derivcheck.claims.formulas import formula_result, load_formulas
from derivcheck.claims.result import DocumentResult, display_path
from derivcheck.claims.worked import check_worked
from derivcheck.formula import check_formula
from derive import SpecError

__all__ = ["check_file", "check_files"]


def check_file(path: str | Path, *, seed: int = 0, cases: int = 60, prove: bool = True, only: str | None = None) -> DocumentResult:
    """Check one claims file (.toml worked numbers or .py formulas)."""
    path = Path(path)
    if path.suffix == ".toml":
        wf = load_worked(path)
        if only:
            wf.claims = [c for c in wf.claims if c.id == only]
        return DocumentResult(str(path), wf.doc_id, wf.title, wf.source, check_worked(wf), wf.note)
    if path.suffix == ".py":
        doc, claims = load_formulas(path)
        if only:
            claims = [c for c in claims if c.id == only]
        shown = display_path(path)
        results = [formula_result(check_formula(c, seed=seed, cases=cases, prove=prove, source=shown)) for c in claims]
        return DocumentResult(
            str(path),
            str(doc.get("id", path.stem)),
            str(doc.get("title", path.stem)),
            str(doc.get("source", "")),
            results,
            str(doc.get("note", "")),
        )
    raise SpecError(f"{path.name}: unknown claims file type", "use .toml (worked numbers) or .py (formulas)")


def check_files(paths, *, progress: bool = False, **kw) -> list[DocumentResult]:
    """Check each file (`check_file`'s keywords). With `progress`, say how far the run is on stderr (a
    catalog takes a minute or more): a transient bar on a terminal, else a line per file as it ends."""
    paths = list(paths)
    if not progress:
        return [check_file(p, **kw) for p in paths]
    import sys
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    from derivcheck.tables import progress as progress_bar

    docs: list[DocumentResult] = []
    bar = progress_bar(TextColumn("claims {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with bar:
        task = bar.add_task("", total=len(paths))
        for n, p in enumerate(paths, start=1):
            bar.update(task, description=Path(p).name)
            start = time.perf_counter()
            docs.append(check_file(p, **kw))
            bar.advance(task)
            if bar.disable:  # piped or a log: one line per file, as it ends
                d = docs[-1]
                n_claims = f"{len(d.results)} claim{'' if len(d.results) == 1 else 's'}"
                print(
                    f"claims {n}/{len(paths)}: {Path(p).name}: {n_claims}, {len(d.failed)} false "
                    f"({time.perf_counter() - start:.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    return docs
