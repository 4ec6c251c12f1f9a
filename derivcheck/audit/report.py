"""The audit's outputs: JSON (the issue's schema), a rich table, and the LaTeX report with plots of
g, g', phi and the float32 error against separation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from derivcheck.audit.facts import Facts
from derivcheck.audit.registry import Audit, jsonable
from derivcheck.provenance import provenance
from derive import audit_math as am
from derive.decide import to_float
from numeric import scan

__all__ = ["to_json", "print_table", "write_report"]


def to_json(a: Audit) -> dict:
    """The issue's schema: {"kernel", "params", "verdict",
    "checks": [{"name", "verdict", "detail", "evidence"}]} ("penalty" in place of "kernel" for a penalty)."""
    return {
        a.kind: a.kernel,  # "kernel" (or "penalty" for a penalty's audit)
        "params": dict(a.params),
        "verdict": a.verdict,
        "checks": [c.as_dict() for c in a.checks],
    }


def print_table(a: Audit, file=None) -> None:
    """The verdicts as a table at the terminal's width (the "decided" column goes below 100 columns)."""
    from rich.table import Table

    from derivcheck.tables import console

    colour = {"pass": "green", "warn": "yellow", "skipped": "magenta", "fail": "bold red"}
    ps = ", ".join(f"{k}={v:g}" for k, v in a.params.items())
    head = f"kernel {a.kernel}: g(r) = {a.formula}" if a.kind == "kernel" else f"penalty rho(r, w) = {a.formula}"
    table = Table(title=head + (f"  [{ps}]" if ps else ""), show_lines=False)
    out = console(file)
    wide = out.width >= 100
    table.add_column("check", overflow="fold")
    table.add_column("verdict", no_wrap=True)
    if wide:
        table.add_column("decided", overflow="fold")
    table.add_column("detail", overflow="fold", ratio=1)
    for c in a.checks:
        decided = [str(c.evidence.get("decided", ""))] if wide else []
        table.add_row(c.name, f"[{colour[c.verdict]}]{c.verdict}[/]", *decided, c.detail)
    out.print(table)
    out.print(f"overall: [{colour[a.verdict]}]{a.verdict}[/] (seed {a.seed}, {a.seconds:.1f} s)")


def _plots(a: Audit, out_dir: Path) -> tuple[Path, Path | None]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f: Facts = a.data["facts"]
    top = max([3.0] + [3 * abs(v) for _, v in a.params.items()] + [1.5 * to_float(p) for p in f.points])
    r = np.linspace(0, top, 1201)[1:]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    fns = (f.num["g"], f.num["dg"], f.num["phi"])
    for ax, fn, label in zip(axes, fns, ("g(r)", "g'(r)", "phi(r) = g'(r)/r"), strict=True):
        ax.plot(r, scan.evaluate(fn, r), lw=1.5)
        ax.set_title(label)
        ax.set_xlabel("r")
        ax.axhline(0, color="0.7", lw=0.6)
        for p in f.points:
            ax.axvline(to_float(p), color="tab:red", lw=0.6, ls="--")
    fig.tight_layout()
    kfig = out_dir / "audit_kernel.png"
    _save(fig, kfig)
    plt.close(fig)
    errs = a.data.get("float32")
    if not errs:
        return kfig, None
    from numeric.compare import tolerance

    seps = [v["separation"] for v in errs.values() if v["separation"] is not None]
    vals = [v["max_rel_error"] for v in errs.values() if v["separation"] is not None]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    shown = [min(v, 10.0) for v in vals]
    ax.loglog(seps, np.maximum(shown, 1e-12), "o-", label="float32 vs float64, rel. error of dL/dZ")
    ax.axhline(tolerance(np.float32, "dZ"), color="tab:red", ls="--", label="float32 tolerance")
    ax.axhline(max(errs["none"]["max_rel_error"], 1e-12), color="0.5", ls=":", label="separated nodes")
    ax.invert_xaxis()
    ax.set_xlabel("separation of the node pair")
    ax.set_ylabel("max relative error (refused = 10)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    ffig = out_dir / "audit_float32.png"
    _save(fig, ffig)
    plt.close(fig)
    return kfig, ffig


def _save(fig, path: Path) -> None:
    import io

    from derivcheck.provenance import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130)
    atomic_write_bytes(path, buf.getvalue())


def write_report(a: Audit, out_dir: str | Path, compile: bool = True, argv: list[str] | None = None) -> tuple[Path, Path | None]:
    """LaTeX audit report (``out_dir/audit.tex``, and the PDF when TeX is present) with the verdicts, the
    mathematics of every check, the evidence, and plots of g, g', phi and the float32 error against
    separation. Returns (tex path, pdf path or None)."""
    from derivcheck.latex import render

    out_dir = Path(out_dir)
    f: Facts = a.data["facts"]
    kfig, ffig = _plots(a, out_dir)
    prov = provenance(a.seed, argv)

    ctx = {
        "kernel": a.kernel,
        "verdict": a.verdict,
        "seed": a.seed,
        "created": prov["created"],
        "command": prov["command"],
        "versions": ", ".join(f"{k} {v}" for k, v in prov["versions"].items()),
        "params_text": ", ".join(f"{k} = {v:.6g}" for k, v in a.params.items()) or "none",
        "g_latex": am.latex(f.g),
        "phi_latex": am.latex(f.phi),
        "g0": am.latex(f.g0),
        "dg0": am.latex(f.dg0),
        "d2g0": am.latex(f.d2g0),
        "phi0": am.latex(f.phi0),
        "d3g0": am.latex(a.data.get("d3g0")),
        "grid_points": int(f.grid.size),
        "points_text": ", ".join(str(p) for p in f.points) or "none (no boundary or singularity)",
        "checks": [
            {
                "name": c.name,
                "verdict": c.verdict,
                "detail": c.detail,
                "decided": str(c.evidence.get("decided", "")),
                "evidence": [(k, readable(v)) for k, v in c.evidence.items() if k != "decided"],
            }
            for c in a.checks
        ],
        "fig_kernel": kfig.name,
        "fig_float32": ffig.name if ffig else "",
    }
    figures = [kfig] + ([ffig] if ffig else [])
    return render("audit.tex.j2", ctx, out_dir, "audit", figures=figures, compile=compile)


def readable(v, digits: int = 6, limit: int = 600) -> str:
    """An evidence value as text a reader can read: numbers to `digits` significant digits, mappings as
    "key: value; ...", lists comma-separated (no Python dicts, quotes or 17-digit floats)."""

    def fmt(x) -> str:
        x = jsonable(x)
        if x is None:
            return "none"
        if isinstance(x, bool):
            return str(x).lower()
        if isinstance(x, float):
            return f"{x:.{digits}g}"
        if isinstance(x, dict):
            return "; ".join(f"{k}: {fmt(w)}" for k, w in x.items()) or "none"
        if isinstance(x, list):
            return ", ".join(fmt(w) for w in x) or "none"
        return str(x)

    text = fmt(v)
    return text if len(text) <= limit else text[:limit] + " ..."
