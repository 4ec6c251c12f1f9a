"""`derivcheck claims FILE...`: check a document's worked numbers (TOML) and formulas (Python) and
print a table (claim, verdict, claimed, true value); optionally build the LaTeX errata report.

Exit codes: 0 every claim holds, 1 some claim is false, 2 bad input (`derive.SpecError`).

Worked-number files are described in `derivcheck.claimsfile`; formula files are Python modules in
`claims/` defining ``DOCUMENT = {"id": ..., "title": ..., "source": ...}`` and ``CLAIMS = [FormulaClaim(...)]``
(see `derivcheck.formula`). Formula files are code: they are imported, like a test module.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from derive import SpecError, compile_net
from numeric import manual
from numeric.compare import Findings

from . import provenance
from .claimsfile import FALSE, HOLDS, ROUNDING, WorkedFile, judge_number, load_worked, number_finding, printed
from .formula import FormulaVerdict, check_formula

__all__ = ["Result", "DocumentResult", "check_worked", "load_formulas", "check_file", "check_files",
           "build_errata", "add_arguments", "run", "REPO"]

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    """One claim's outcome, in a form shared by worked numbers and formulas (table and report)."""

    id: str
    kind: str  # "number" | "formula"
    where: str
    quantity: str
    verdict: str  # HOLDS, ROUNDING, FALSE
    claimed: str
    true: str
    text: str = ""
    note: str = ""
    evidence: str = ""
    counterexample: dict | None = None
    command: str = ""
    claim_correct: str = ""
    finding: str = ""  # the failed check's `numeric.compare.Finding` line (false claims only)
    values: dict = field(default_factory=dict)  # {"claimed", "true"} as numbers (floats or lists) for JSON


@dataclass
class DocumentResult:
    path: str
    doc_id: str
    title: str
    source: str
    results: list[Result] = field(default_factory=list)
    note: str = ""

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if r.verdict == FALSE]


# ---------------------------------------------------------------------------------------------- numbers

def _fmt(x: float, unit: float) -> str:
    """A true value printed with two more digits than the claim has."""
    digits = max(0, -int(np.floor(np.log10(unit))) + 2) if unit < 1 else 2
    if x != 0 and abs(x) < 1e-3 and unit < 1e-6:
        return f"{x:.{max(3, len(f'{unit:e}'.split('e')[0]))}e}"
    return f"{x:.{digits}f}"


def _true_values(wf: WorkedFile) -> dict[str, Any]:
    """Engine values for every quantity of a worked file (one forward/backward pass)."""
    cache = manual.forward(wf.net, wf.params, wf.X, wf.Y)
    g = manual.gradients(wf.net, wf.params, wf.X, wf.Y)
    return {"cache": cache, "grad": g, "c": compile_net(wf.net, "numpy")}


def _quantity(wf: WorkedFile, tv: dict, quantity: str, layer: int | None):
    cache, g, c = tv["cache"], tv["grad"], tv["c"]
    one = (lambda arr: arr[0]) if wf.X.shape[0] == 1 else (lambda arr: arr)  # noqa: E731  drop the batch axis
    if quantity == "loss":
        return np.asarray(g.loss)
    if quantity == "dX":
        return one(g.dX)
    assert layer is not None  # load_worked requires a layer for every other quantity
    if quantity in ("R", "dZ", "Z+") and not wf.net.spatial:
        raise SpecError(f"{wf.path.name}: {quantity} claimed but the network is not spatial",
                        "use kind = \"spatial\" with coordinates in [network]")
    i = wf.index(layer)
    need_weighted = {"z", "delta", "dW", "db", "dact", "jacobian", "W+", "b+", "W", "R"}
    if quantity in need_weighted and i == 0:
        raise SpecError(f"{wf.path.name}: {quantity} does not exist at the input layer {layer}",
                        "use a layer after the input")
    lr = wf.learning_rate
    if quantity == "z":
        return one(cache.h[i])
    if quantity == "a":
        return one(cache.a[i])
    if quantity == "delta":
        return one(g.delta[i])
    if quantity == "dA":
        return one(g.dA[i])
    if quantity == "dW":
        return g.dW[i - 1]
    if quantity == "db":
        if g.db is None:
            raise SpecError(f"{wf.path.name}: db claimed but the network has no biases", "add biases to [network]")
        return g.db[i - 1]
    if quantity == "dact":
        return one(np.broadcast_to(np.asarray(c.df[i - 1](cache.h[i]), dtype=float), cache.h[i].shape))
    if quantity == "jacobian":
        if wf.X.shape[0] != 1:
            raise SpecError(f"{wf.path.name}: a layer Jacobian needs a single example", "give one row in x")
        fprime = np.broadcast_to(np.asarray(c.df[i - 1](cache.h[i]), dtype=float), cache.h[i].shape)[0]
        return fprime[:, None] * cache.W[i]
    if quantity == "W+":
        if wf.net.spatial:
            return cache.W[i] - lr * g.dW[i - 1]
        assert wf.params.W is not None  # load_worked gives every MLP its weights
        return wf.params.W[i - 1] - lr * g.dW[i - 1]
    if quantity == "b+":
        if wf.params.b is None or g.db is None:
            raise SpecError(f"{wf.path.name}: b+ claimed but the network has no biases", "add biases to [network]")
        return wf.params.b[i - 1] - lr * g.db[i - 1]
    if quantity == "W":
        return cache.W[i]
    if quantity == "R":
        return cache.R[i]
    if quantity == "dZ":
        return g.dZ[i]
    if quantity == "Z+":
        return cache.Z[i] - lr * g.dZ[i]
    raise SpecError(f"quantity {quantity!r} is not supported", "see README, Claims files")


def check_worked(wf: WorkedFile, *, raise_: bool = False) -> list[Result]:
    """Judge every claim of a worked-number file at its printed precision; a false claim's worst
    entry is reported as a `numeric.compare.Finding` (raised as `VerificationError` with `raise_`)."""
    tv = _true_values(wf)
    out = []
    found = Findings(raise_=raise_)
    for cl in wf.claims:
        true = np.asarray(_quantity(wf, tv, cl.quantity, cl.layer), dtype=float)
        if cl.index is not None:
            try:
                true = true[tuple(cl.index)]
            except IndexError:
                raise SpecError(f"{wf.path.name}: claim {cl.id!r} index {list(cl.index)} is outside shape "
                                f"{true.shape}", "count indices from 0 within the layer's array") from None
        claimed = np.asarray(cl.value, dtype=object)
        flat_c, flat_t = claimed.ravel(), np.atleast_1d(true).ravel()
        if flat_c.size != flat_t.size:
            raise SpecError(f"{wf.path.name}: claim {cl.id!r} gives {flat_c.size} numbers; {cl.quantity} of layer "
                            f"{cl.layer} has {flat_t.size}", "give every entry, or pick one with index = [...]")
        tol = cl.tolerance if cl.tolerance is not None else wf.tolerance
        verdicts = [judge_number(v, t, wf.rounding_allowance, tol) for v, t in zip(flat_c, flat_t)]
        rank = {HOLDS: 0, ROUNDING: 1, FALSE: 2}
        verdict = max((v for v, _ in verdicts), key=rank.__getitem__)
        trues = [_fmt(t, printed(v)[1]) for v, t in zip(flat_c, flat_t)]
        show = lambda xs: xs[0] if len(xs) == 1 else "(" + ", ".join(xs) + ")"  # noqa: E731
        worst = max(u for _, u in verdicts)
        keys = [(rank[v], u) for v, u in verdicts]
        k = keys.index(max(keys))  # the worst entry: false before rounding before holds, then the largest error
        where = (f" of layer {cl.layer}" if cl.layer is not None else "") + \
            (f", entry {list(cl.index)}" if cl.index is not None else "") + \
            (f", entry {[int(i) for i in np.unravel_index(k, np.shape(true))]}" if flat_t.size > 1 else "")
        f = number_finding(flat_c[k], flat_t[k], wf.rounding_allowance, tol, quantity=cl.quantity,
                           engine=f"claim {cl.id!r}", where=where)
        f.command = f"derivcheck claims {_display_path(wf.path)} --only {cl.id}"
        found.report(f)
        out.append(Result(cl.id, "number", cl.where, cl.quantity + (f" (layer {cl.layer})" if cl.layer is not None else ""),
                          verdict, show([str(v) for v in flat_c]), show(trues), cl.text, cl.note,
                          evidence=f"off by {worst:.2g} units of the last printed digit" if verdict != HOLDS else "",
                          finding="" if f.ok else f.describe(),
                          values={"claimed": _num([float(v) for v in flat_c]), "true": _num(flat_t.tolist())}))
    return out


# --------------------------------------------------------------------------------------------- formulas

def load_formulas(path: str | Path):
    """Import a formula claims module; returns (DOCUMENT dict, list of FormulaClaim)."""
    path = Path(path)
    spec = importlib.util.spec_from_file_location(f"derivcheck_claims_{path.stem.replace('-', '_')}", path)
    if spec is None or spec.loader is None:
        raise SpecError(f"cannot import {path}", "formula claims files are Python modules ending in .py")
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except FileNotFoundError:
        raise SpecError(f"cannot read {path}", "check the path") from None
    if not hasattr(mod, "CLAIMS"):
        raise SpecError(f"{path.name} defines no CLAIMS list", "define CLAIMS = [FormulaClaim(...), ...]")
    return getattr(mod, "DOCUMENT", {"id": path.stem, "title": path.stem}), list(mod.CLAIMS)


def _formula_result(v: FormulaVerdict) -> Result:
    cl = v.claim
    ce = None
    if v.counterexample is not None:
        ce = dict(v.counterexample.__dict__)
        ce.pop("finding")  # its line is ce["message"]; the dict goes to JSON and the errata
    claimed = true = ""
    if ce:
        claimed = "undefined" if ce["claimed"] is None else f"{ce['claimed']:.6g}" if isinstance(ce["claimed"], float) \
            else str(ce["claimed"])
        true = f"{ce['true']:.6g}" if isinstance(ce["true"], float) else str(ce["true"])
    return Result(cl.id, "formula", cl.where, cl.quantity, HOLDS if v.holds else FALSE, claimed or "formula",
                  true or "same as claimed", cl.text, cl.note, v.evidence, ce, v.command, cl.correct,
                  v.finding.describe() if v.finding is not None else "",
                  {"claimed": ce["claimed"], "true": ce["true"]} if ce else {})


def _num(xs: list):
    return xs[0] if len(xs) == 1 else xs


def to_json(docs: list[DocumentResult], prov: Mapping[str, Any]) -> dict:
    """The verdicts as JSON: per claim its fields, "claimed"/"true" as numbers (null for a formula that
    holds) and "claimed_text"/"true_text" as printed in the table."""
    def claim(r: Result) -> dict:
        d = {k: v for k, v in r.__dict__.items() if k != "values"}
        return {**d, "claimed": r.values.get("claimed"), "true": r.values.get("true"),
                "claimed_text": r.claimed, "true_text": r.true}
    return {"provenance": prov, "documents": [{**d.__dict__, "results": [claim(r) for r in d.results]}
                                              for d in docs]}


# ------------------------------------------------------------------------------------------------ files

def check_file(path: str | Path, *, seed: int = 0, cases: int = 60, prove: bool = True,
               only: str | None = None) -> DocumentResult:
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
        shown = _display_path(path)
        results = [_formula_result(check_formula(c, seed=seed, cases=cases, prove=prove, source=shown))
                   for c in claims]
        return DocumentResult(str(path), str(doc.get("id", path.stem)), str(doc.get("title", path.stem)),
                              str(doc.get("source", "")), results, str(doc.get("note", "")))
    raise SpecError(f"{path.name}: unknown claims file type", "use .toml (worked numbers) or .py (formulas)")


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def check_files(paths, **kw) -> list[DocumentResult]:
    return [check_file(p, **kw) for p in paths]


def print_table(docs: list[DocumentResult], file=None) -> None:
    from rich.table import Table

    from .tables import console as make_console

    console = make_console(file)
    style = {HOLDS: "green", ROUNDING: "yellow", FALSE: "bold red"}
    for d in docs:
        t = Table(title=f"{d.title} [{Path(d.path).name}]", title_justify="left")
        for col in ("claim", "where", "quantity", "verdict", "claimed", "true"):
            t.add_column(col, overflow="fold")
        for r in d.results:
            t.add_row(r.id, r.where, r.quantity, f"[{style[r.verdict]}]{r.verdict}[/]", r.claimed, r.true)
        console.print(t)
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
    console.print(f"{n} claims, {bad} false, {sum(r.verdict == ROUNDING for d in docs for r in d.results)} "
                  f"hold only to rounding")


# ---------------------------------------------------------------------------------------------- errata

def _tex_num(s: str) -> str:
    from .latex import escape
    return escape(s)


def build_errata(docs: list[DocumentResult], out_dir: str | Path = REPO / "reports" / "build", *,
                 seed: int = 0, argv: list[str] | None = None, compile: bool = True):
    """Render the errata report (reports/templates/errata.tex.j2) to ``out_dir/errata.tex`` and PDF.

    Returns:
        (tex path, pdf path or None when TeX is absent).
    """
    from .latex import render

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
        "documents": [{
            "title": ds[0].title.replace(" (formulas)", ""), "source": ds[0].source,
            "file": ", ".join(Path(d.path).name for d in ds), "note": " ".join(d.note for d in ds if d.note),
            "n": sum(len(d.results) for d in ds), "n_false": sum(len(d.failed) for d in ds),
            "claims": [{**r.__dict__, "ce_text": ce_text(r.counterexample)} for d in ds for r in d.results],
        } for ds in grouped.values()],
        "total": sum(len(d.results) for d in docs), "total_false": sum(len(d.failed) for d in docs),
    }
    return render("errata.tex.j2", context, out_dir, "errata", compile=compile)


# ------------------------------------------------------------------------------------------------- CLI

def add_arguments(parser) -> None:
    parser.add_argument("files", nargs="*", type=Path,
                        help="claims files: .toml (worked numbers) or .py (formulas); default claims/*")
    parser.add_argument("--only", help="check only the claim with this id")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed for formula searches (default 0)")
    parser.add_argument("--cases", type=int, default=60, help="networks drawn per formula claim (default 60)")
    parser.add_argument("--no-prove", action="store_true", help="skip the symbolic proofs")
    parser.add_argument("--errata", type=Path, metavar="OUTDIR", help="also build errata.tex/.pdf in OUTDIR")
    from .tables import add_json_argument
    add_json_argument(parser, "the verdicts")


def default_files() -> list[Path]:
    """The catalog of the source notes' claims (claims/ in a source tree, package data when installed)."""
    folder = Path(str(importlib.resources.files("derivcheck") / "catalog")).resolve()  # claims/ in a source tree
    return sorted([*folder.glob("*.toml"), *folder.glob("*.py")])


def run(args) -> int:
    files = list(args.files) or default_files()
    if not files:
        raise SpecError("no claims files given and the installed catalog is empty", "pass FILE... (.toml or .py)")
    docs = check_files(files, seed=args.seed, cases=args.cases, prove=not args.no_prove, only=args.only)
    if args.json != "-":
        print_table(docs)
    argv = sys.argv[1:]
    if args.json is not None:
        from .tables import write_json
        write_json(args.json, to_json(docs, provenance.provenance(args.seed, argv)))
    if args.errata:
        tex, pdf = build_errata(docs, args.errata, seed=args.seed, argv=argv)
        print(f"errata: {pdf or tex}", file=sys.stderr if args.json == "-" else sys.stdout)  # stdout: JSON only
    return 1 if any(d.failed for d in docs) else 0
