"""Target records of the results JSON (``{"id", "what", "measured", "unit", "target", "pass",
"details"}``), the table that prints them, and the exit status they give."""

from __future__ import annotations

__all__ = ["record", "table", "exit_status"]


def record(tid, what, measured, unit, target, ok, **details):
    """One target record; `ok` None means skipped or not measured (``pass`` None)."""
    return {
        "id": tid,
        "what": what,
        "measured": measured,
        "unit": unit,
        "target": target,
        "pass": None if ok is None else bool(ok),
        "details": details,
    }


def table(results: dict):
    """A rich Table of the targets: id, measured, target, pass. A quick run's rows say "smoke" where a
    full run's say pass or FAIL: at its tiny sizes a measurement judges no target (exit 0)."""
    from rich.table import Table

    quick = bool(results["config"].get("quick"))
    t = Table(title=f"derivcheck bench ({'quick: a smoke run, no target judged' if quick else 'full'}, {results['wall_s']:.0f} s)")
    # the target id whole on one line (rich folded 'truth.arb_vs_mpmath.w4-4-2' at its hyphens); the note folds
    t.add_column("target", no_wrap=True)
    for col in ("measured", "goal", "pass", "note"):
        t.add_column(col, overflow="fold")
    for r in results["targets"]:
        m, d = r["measured"], r["details"]
        ms = "-" if m is None else (f"{m:.3g} {r['unit']}" if isinstance(m, float) else f"{m} {r['unit']}")
        ok = {True: "[green]pass", False: "[red]FAIL", None: "[yellow]skipped"}[r["pass"]]
        if quick and r["pass"] is not None and "error" not in d:
            ok = "smoke"
        note = d.get("error") or d.get("skipped") or ", ".join(f"{k} {v:.3g}" for k, v in d.items() if isinstance(v, float))
        goal = f"{r['target']:.3g}" if isinstance(r["target"], float) else str(r["target"])
        t.add_row(r["id"], ms, goal, ok, note)
    return t


def exit_status(results: dict) -> int:
    """1 when a target of a full run failed (``pass`` is False, measured or errored), else 0.

    A quick run's sizes are a smoke test: its pass/fail says nothing about the targets, so it exits 0.
    """
    failed = [r for r in results["targets"] if r["pass"] is False]
    return 1 if failed and not results["config"].get("quick") else 0
