"""A claim's outcome (`Result`, shared by worked numbers and formulas, for the table, the report and
JSON) and a claims file's (`DocumentResult`); `display_path` names a claims file as the reproducing
commands do: a path that works from the folder the command was run in."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from derivcheck.claims.precision import FALSE

__all__ = ["Result", "DocumentResult", "REPO", "display_path"]

REPO = Path(__file__).resolve().parents[2]


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


def display_path(path: Path) -> str:
    """`path` relative to the current folder when it lies below it, else absolute: the printed command
    runs as printed from where the user ran claims. (Relative to the package's parent folder it was
    "derivcheck/catalog/..." after pip install: exit 2 from any folder but site-packages.)"""
    full = Path(path).resolve()
    try:
        return str(full.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(full)
