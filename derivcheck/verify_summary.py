"""The summary of a verification run: the worst error per engine and quantity over all cases
(`summarise`, as results.json's "table" and "identities") and the terminal table of it (`summary_table`)."""

from __future__ import annotations

import numpy as np

from numeric.compare import tolerance

__all__ = ["summarise", "summary_table"]


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


def summary_table(table_cells: dict, seed: int):
    """The rich table of the max relative error per engine (rows) and quantity (columns), FAIL marked."""
    from rich import box
    from rich.table import Table

    # numbers never wrap or truncate: a compact box leaves 80 columns room for all seven, the engine folds
    table = Table(title=f"max relative error vs 50-digit ground truth (seed {seed})", box=box.SIMPLE_HEAD)
    table.add_column("engine", overflow="fold")
    qs = ["loss", "dW", "dZ", "db", "dX", "grad", "hvp"]
    for q in qs:
        table.add_column(q, justify="right", no_wrap=True, min_width=7)
    for eng, cells in table_cells.items():
        table.add_row(
            eng, *[(f"{cells[q]['max_rel']:.1e}" + ("" if cells[q]["pass"] else " FAIL")) if q in cells else "-" for q in qs]
        )
    return table
