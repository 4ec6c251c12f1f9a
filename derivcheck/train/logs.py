"""Per-iteration training logs (CSV or JSON with summary and provenance), written atomically."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from derivcheck.provenance import atomic_write_json, atomic_write_text, provenance
from derivcheck.train.methods import TrainRun
from derive import SpecError

__all__ = ["write_log"]


def write_log(run_: TrainRun, path: str | Path, argv: list[str] | None = None) -> Path:
    """Per-iteration log, atomically: ``.csv`` (one row per iteration) or ``.json`` (summary,
    provenance with the seed, and the history)."""
    path = Path(path)
    rows = [r.as_dict() for r in run_.result.history]
    if path.suffix == ".json":
        return atomic_write_json(path, {"summary": run_.summary(), "provenance": provenance(run_.task.seed, argv), "history": rows})
    if path.suffix != ".csv":
        raise SpecError(f"log file {path.name!r} is neither .csv nor .json", "name it e.g. train.csv")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return atomic_write_text(path, buf.getvalue())
