"""Checking claims files: a document's worked numbers (TOML, `derivcheck.claimsfile`) against the
manual engine and its formulas (Python modules defining ``DOCUMENT`` and ``CLAIMS``, `derivcheck.formula`),
each claim's outcome a `Result` and each file's a `DocumentResult`. Formula files are code: they are
imported, like a test module."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from derive import SpecError, compile_net
from numeric import manual
from numeric.compare import Findings
from numeric.manual import penalty as manual_penalty

from .claimsfile import FALSE, HOLDS, ROUNDING, WorkedFile, judge_number, load_worked, number_finding, printed
from .formula import FormulaVerdict, check_formula

__all__ = ["Result", "DocumentResult", "check_worked", "load_formulas", "check_file", "check_files", "REPO"]

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
    # numbers behind the texts above: claimed, true (entries or lists), error, measure ("rel"/"abs"), tolerance
    values: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """The result for JSON: `claimed` and `true` as numbers (the printed texts stay under "printed")."""
        out = {k: v for k, v in self.__dict__.items() if k not in ("claimed", "true", "values")}
        return {
            **out,
            "printed": {"claimed": self.claimed, "true": self.true},
            "claimed_text": self.claimed,
            "true_text": self.true,
            "claimed": None,
            "true": None,
            **self.values,
        }


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
    if quantity == "penalty":  # J's penalty terms (numeric.manual.penalty), the net's or one layer's edges
        if not (wf.net.spatial and wf.net.penalties):
            raise SpecError(f"{wf.path.name}: penalty claimed but the network has none", "add [[network.penalty]] tables")
        if layer is None:
            return np.asarray(manual_penalty.total(wf.net, cache))
        i = wf.index(layer)
        if i == 0:
            raise SpecError(f"{wf.path.name}: no edges end at the input layer {layer}", "use a layer after the input")
        return np.asarray(manual_penalty.first_order(wf.net, i + 1, cache.R[i], cache.W[i])[0])
    assert layer is not None  # load_worked requires a layer for every other quantity
    if quantity in ("R", "dZ", "Z+", "dtheta") and not wf.net.spatial:
        raise SpecError(
            f"{wf.path.name}: {quantity} claimed but the network is not spatial",
            'use kind = "spatial" with coordinates in [network]',
        )
    i = wf.index(layer)
    need_weighted = {"z", "delta", "dW", "db", "dact", "jacobian", "W+", "b+", "W", "R", "dtheta"}
    if quantity in need_weighted and i == 0:
        raise SpecError(f"{wf.path.name}: {quantity} does not exist at the input layer {layer}", "use a layer after the input")
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
    if quantity == "dtheta":
        if g.dtheta is None:
            raise SpecError(f"{wf.path.name}: dtheta claimed but the amplitudes are not free", 'set amplitudes = "free" and theta')
        return g.dtheta[i - 1]
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
                raise SpecError(
                    f"{wf.path.name}: claim {cl.id!r} index {list(cl.index)} is outside shape {true.shape}",
                    "count indices from 0 within the layer's array",
                ) from None
        claimed = np.asarray(cl.value, dtype=object)
        flat_c, flat_t = claimed.ravel(), np.atleast_1d(true).ravel()
        if flat_c.size != flat_t.size:
            raise SpecError(
                f"{wf.path.name}: claim {cl.id!r} gives {flat_c.size} numbers; {cl.quantity} of layer {cl.layer} has {flat_t.size}",
                "give every entry, or pick one with index = [...]",
            )
        tol = cl.tolerance if cl.tolerance is not None else wf.tolerance
        verdicts = [judge_number(v, t, wf.rounding_allowance, tol) for v, t in zip(flat_c, flat_t)]
        rank = {HOLDS: 0, ROUNDING: 1, FALSE: 2}
        verdict = max((v for v, _ in verdicts), key=rank.__getitem__)
        trues = [_fmt(t, printed(v)[1]) for v, t in zip(flat_c, flat_t)]
        show = lambda xs: xs[0] if len(xs) == 1 else "(" + ", ".join(xs) + ")"  # noqa: E731
        worst = max(u for _, u in verdicts)
        keys = [(rank[v], u) for v, u in verdicts]
        k = keys.index(max(keys))  # the worst entry: false before rounding before holds, then the largest error
        where = (
            (f" of layer {cl.layer}" if cl.layer is not None else "")
            + (f", entry {list(cl.index)}" if cl.index is not None else "")
            + (f", entry {[int(i) for i in np.unravel_index(k, np.shape(true))]}" if flat_t.size > 1 else "")
        )
        f = number_finding(
            flat_c[k], flat_t[k], wf.rounding_allowance, tol, quantity=cl.quantity, engine=f"claim {cl.id!r}", where=where
        )
        f.command = f"derivcheck claims {_display_path(wf.path)} --only {cl.id}"
        found.report(f)
        nums = lambda xs: xs[0] if len(xs) == 1 else list(xs)  # noqa: E731
        values = {
            "claimed": nums([printed(v)[0] for v in flat_c]),
            "true": nums([float(t) for t in flat_t]),
            "error": f.error,
            "measure": f.measure,
            "tolerance": f.tol,
        }
        out.append(
            Result(
                cl.id,
                "number",
                cl.where,
                cl.quantity + (f" (layer {cl.layer})" if cl.layer is not None else ""),
                verdict,
                show([str(v) for v in flat_c]),
                show(trues),
                cl.text,
                cl.note,
                evidence=f"off by {worst:.2g} units of the last printed digit" if verdict != HOLDS else "",
                finding="" if f.ok else f.describe(),
                values=values,
            )
        )
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
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise SpecError(f"cannot read {path}", "check the path") from None
    except SyntaxError as exc:
        raise SpecError(f"{path.name}, line {exc.lineno}: syntax error ({exc.msg})", "fix the Python syntax there") from None
    except SpecError:
        raise
    except Exception as exc:  # noqa: BLE001  the user's module failed while importing: name the file and line
        import traceback

        line = next((f.lineno for f in reversed(traceback.extract_tb(exc.__traceback__)) if f.filename == str(path)), "?")
        raise SpecError(
            f"{path.name}, line {line}: importing it raised {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": "),
            "fix the module",
        ) from None
    claims = getattr(mod, "CLAIMS", None)
    if claims is None:
        raise SpecError(f"{path.name} defines no CLAIMS list", "define CLAIMS = [FormulaClaim(...), ...]")
    from .formula import FormulaClaim

    if not isinstance(claims, (list, tuple)) or not all(isinstance(c, FormulaClaim) for c in claims):
        raise SpecError(
            f"{path.name}: CLAIMS is {type(claims).__name__}, not a list of FormulaClaim",
            "define CLAIMS = [FormulaClaim(...), ...]",
        )
    doc = getattr(mod, "DOCUMENT", {"id": path.stem, "title": path.stem})
    if not isinstance(doc, dict):
        raise SpecError(f"{path.name}: DOCUMENT is {type(doc).__name__}, not a dict", 'define DOCUMENT = {"id": ...}')
    return doc, list(claims)


def _formula_result(v: FormulaVerdict) -> Result:
    cl = v.claim
    ce = None
    if v.counterexample is not None:
        ce = dict(v.counterexample.__dict__)
        ce.pop("finding")  # its line is ce["message"]; the dict goes to JSON and the errata
    claimed = true = ""
    evidence, values = v.evidence, {}
    if ce:
        c, t = ce["claimed"], ce["true"]
        if isinstance(c, float) and isinstance(t, float):
            claimed, true = _distinct(c, t)
        else:
            claimed = "undefined" if c is None else str(c)
            true = str(t)
        f = v.finding
        if f is not None and not f.note and isinstance(t, float):
            # the finding judges |claimed - true| against atol + rtol |true|; say it relative to |true|
            rel = f.error / abs(t) if t else float("inf")
            evidence += (
                f": relative error {rel:.3g} > tolerance {f.tol / abs(t):.3g}"
                if t
                else f": absolute error {f.error:.3g} > tolerance {f.tol:.3g} (the true value is 0)"
            )
            values = {
                "claimed": c,
                "true": t,
                "error": rel if t else f.error,
                "measure": "rel" if t else "abs",
                "tolerance": f.tol / abs(t) if t else f.tol,
                "absolute_error": f.error,
                "absolute_tolerance": f.tol,
            }
        else:
            values = {"claimed": c, "true": t}
    return Result(
        cl.id,
        "formula",
        cl.where,
        cl.quantity,
        HOLDS if v.holds else FALSE,
        claimed or "formula",
        true or "same as claimed",
        cl.text,
        cl.note,
        evidence,
        ce,
        v.command,
        cl.correct,
        v.finding.describe() if v.finding is not None else "",
        values,
    )


def _distinct(a: float, b: float) -> tuple[str, str]:
    """Both numbers with the fewest significant digits (6 at least) that tell them apart."""
    for p in range(6, 18):
        ta, tb = f"{a:.{p}g}", f"{b:.{p}g}"
        if ta != tb:
            return ta, tb
    return repr(a), repr(b)


# ------------------------------------------------------------------------------------------------ files


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
        shown = _display_path(path)
        results = [_formula_result(check_formula(c, seed=seed, cases=cases, prove=prove, source=shown)) for c in claims]
        return DocumentResult(
            str(path),
            str(doc.get("id", path.stem)),
            str(doc.get("title", path.stem)),
            str(doc.get("source", "")),
            results,
            str(doc.get("note", "")),
        )
    raise SpecError(f"{path.name}: unknown claims file type", "use .toml (worked numbers) or .py (formulas)")


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def check_files(paths, **kw) -> list[DocumentResult]:
    return [check_file(p, **kw) for p in paths]
