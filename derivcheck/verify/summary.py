"""The summary of a verification run: the worst error per engine and quantity over all cases
(`summarise`, as results.json's "table" and "identities") and the terminal table of it (`summary_table`)."""

from __future__ import annotations

import re

import numpy as np

from numeric.compare import tolerance

__all__ = ["summarise", "summary_table", "never_checked"]


def summarise(records: list[dict], engines) -> dict:
    table: dict = {}
    idents: dict = {}
    for r in records:
        for eng, qs in r["errors"].items():
            for q, e in qs.items():
                cell = table.setdefault(eng, {}).setdefault(
                    q, {"max_rel": 0.0, "max_ulp": 0.0, "tol": e["tol"], "n": 0, "failures": 0, "dtype": e["dtype"]}
                )
                cell["max_rel"] = max(cell["max_rel"], e["rel"])
                cell["max_ulp"] = max(cell["max_ulp"], e["ulp"])
                cell["n"] += 1
                cell["failures"] += 0 if e["pass"] else 1
        for eng, ids in r["identities"].items():
            for k, v in ids.items():
                cell = idents.setdefault(eng, {}).setdefault(k, {"max": 0.0, "n": 0, "tol": tolerance(np.float64, k)})
                cell["max"] = max(cell["max"], v)
                cell["n"] += 1
    for qs in table.values():
        for cell in qs.values():
            cell["pass"] = cell["failures"] == 0
    for ids in idents.values():
        for cell in ids.values():
            cell["pass"] = cell["max"] <= cell["tol"]
    return {"table": table, "identities": idents}


#: the compared quantities, in the order of every table; dtheta (free amplitudes) only where some engine has it
QUANTITIES = ("loss", "dW", "dZ", "dtheta", "db", "dX", "grad", "hvp")


def shown_quantities(table_cells: dict) -> list[str]:
    """The columns of a results table: QUANTITIES, less dtheta when no engine compared it."""
    return [q for q in QUANTITIES if q != "dtheta" or any(q in cells for cells in table_cells.values())]


def summary_table(table_cells: dict, seed: int):
    """The rich table of the max relative error per engine (rows) and quantity (columns), FAIL marked."""
    from rich import box
    from rich.table import Table

    # numbers never wrap or truncate: a compact box leaves 80 columns room for all eight, the engine folds
    table = Table(title=f"max relative error vs 50-digit ground truth (seed {seed})", box=box.SIMPLE_HEAD)
    table.add_column("engine", overflow="fold")
    qs = shown_quantities(table_cells)
    for q in qs:
        table.add_column(q, justify="right", no_wrap=True, min_width=7)
    for eng, cells in table_cells.items():
        table.add_row(
            eng, *[(f"{cells[q]['max_rel']:.1e}" + ("" if cells[q]["pass"] else " FAIL")) if q in cells else "-" for q in qs]
        )
    return table


def never_checked(records: list[dict], engines, not_run: dict) -> dict[str, str]:
    """The requested checks (engines, fd, taylor, hvp) that ran on no case, each with why: the reason
    every case recorded in "skipped" (the most common one, and how many others), so that a summary
    never lets "0 failures" stand for a check that never ran. Engines in `not_run` are left out (the
    summary names them already)."""
    out: dict[str, str] = {}
    for e in engines:
        if e in not_run:
            continue
        if e == "taylor":
            ran = any("taylor" in r for r in records)
        elif e == "hvp":
            ran = any("hvp" in qs for r in records for qs in r["errors"].values())
        else:
            ran = any(e in r["errors"] for r in records)
        if ran or not records:
            continue
        # one reason with each case's own numbers ("error bound 2.8e-11 ... x gradient 7.7e-94") counts once
        reasons: dict[str, int] = {}
        shown: dict[str, str] = {}
        for r in records:
            for s in r["skipped"]:
                who, _, why = s.partition(": ")
                if who == e:
                    key = re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "#", why)
                    reasons[key] = reasons.get(key, 0) + 1
                    shown.setdefault(key, why)
        if not reasons:
            out[e] = "no case ran it (see the failures)"
            continue
        top = shown[max(reasons, key=lambda k: reasons[k])]
        more = len(reasons) - 1
        out[e] = top + (f"; {more} other reason{'s' if more > 1 else ''} in the results" if more else "")
    return out
