"""`derivcheck claims FILE...`: check a document's worked numbers (TOML) and formulas (Python) and
print a table (claim, verdict, claimed, true value); optionally build the LaTeX errata report.

Exit codes: 0 every claim holds, 1 some claim is false, 2 bad input (`derive.SpecError`).

Worked-number files are described in `derivcheck.claims.file`; formula files are Python modules in
`claims/` defining ``DOCUMENT = {"id": ..., "title": ..., "source": ...}`` and ``CLAIMS = [FormulaClaim(...)]``
(see `derivcheck.formula`). Formula files are code: they are imported, like a test module.

This module is the verb (arguments, run); checking lives in `derivcheck.claims.check`, the table and
the errata report in `derivcheck.claims.output` (the package face exports both).
"""

from __future__ import annotations

import importlib.resources
import sys
from pathlib import Path

from derivcheck import provenance
from derivcheck.claims.check import check_files
from derivcheck.claims.output import build_errata, print_table
from derive import SpecError

__all__ = ["default_files", "run"]


def default_files() -> list[Path]:
    """The claims files of ./claims/ when that folder holds any, else the bundled catalog of the source
    notes' claims (claims/ in a source tree, package data when installed)."""
    here = Path("claims")
    found = sorted([*here.glob("*.toml"), *here.glob("*.py")]) if here.is_dir() else []
    if found:
        return found
    folder = Path(str(importlib.resources.files("derivcheck") / "catalog")).resolve()  # claims/ in a source tree
    return sorted([*folder.glob("*.toml"), *folder.glob("*.py")])


def run(args) -> int:
    files = list(args.files) or default_files()
    if not files:
        raise SpecError("no claims files given and the installed catalog is empty", "pass FILE... (.toml or .py)")
    from derivcheck.guard import check_claims, check_input  # every file readable, the run within budget: before any work

    for f in files:
        check_input(f, "claims file")
    check_claims(args.cases, sum(Path(f).suffix == ".py" for f in files))
    docs = check_files(files, seed=args.seed, cases=args.cases, prove=not args.no_prove, only=args.only, progress=True)
    if args.only is not None and not any(d.results for d in docs):  # no claim checked: no verdict
        raise SpecError(f"no claim has the id {args.only!r} in {', '.join(map(str, files))}", "give an id the table lists")
    if args.json != "-":
        print_table(docs)
    argv = sys.argv[1:]
    if args.json is not None:
        from derivcheck.tables import write_json

        write_json(
            args.json,
            {
                "provenance": provenance.provenance(args.seed, argv),
                "documents": [{**d.__dict__, "results": [r.to_json() for r in d.results]} for d in docs],
            },
        )
    if args.errata:
        tex, pdf = build_errata(docs, args.errata, seed=args.seed, argv=argv)
        print(f"errata: {pdf or tex}", file=sys.stderr if args.json == "-" else sys.stdout)  # stdout: JSON only
    return 1 if any(d.failed for d in docs) else 0
