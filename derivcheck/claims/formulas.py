"""Formula claims files: Python modules defining ``DOCUMENT`` and ``CLAIMS`` (a list of
`derivcheck.formula.FormulaClaim`), imported like a test module (`load_formulas`), and each formula's
verdict as a `Result` (`formula_result`: claimed and true values with the digits that tell them apart,
the error relative to |true|)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from derivcheck.claims.precision import FALSE, HOLDS
from derivcheck.claims.result import Result
from derivcheck.formula import FormulaVerdict
from derive import SpecError

__all__ = ["load_formulas", "formula_result"]


def load_formulas(path: str | Path):
    """Import a formula claims module; returns (DOCUMENT dict, list of FormulaClaim)."""
    from derivcheck.guard import check_input  # a regular file under 1 MiB: a FIFO or /dev/zero is refused

    path = check_input(path, "formula claims file")
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
    from derivcheck.formula import FormulaClaim

    if not isinstance(claims, (list, tuple)) or not all(isinstance(c, FormulaClaim) for c in claims):
        raise SpecError(
            f"{path.name}: CLAIMS is {type(claims).__name__}, not a list of FormulaClaim",
            "define CLAIMS = [FormulaClaim(...), ...]",
        )
    doc = getattr(mod, "DOCUMENT", {"id": path.stem, "title": path.stem})
    if not isinstance(doc, dict):
        raise SpecError(f"{path.name}: DOCUMENT is {type(doc).__name__}, not a dict", 'define DOCUMENT = {"id": ...}')
    return doc, list(claims)


def formula_result(v: FormulaVerdict) -> Result:
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
