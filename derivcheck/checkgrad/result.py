"""`CheckResult`: what `derivcheck.check_grad` found (cases run and failing by kind, the counterexample's
mismatches, its diagnosis, the shrunk counterexample and its numbers, the reproducing command), with
its text report (`report`) and JSON form (`to_dict`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from derivcheck.checkgrad.compare import finding_dict
from derive import MLP, Net, VerificationError
from numeric.compare import Finding
from numeric.draws import Case

__all__ = ["CheckResult"]


@dataclass
class CheckResult:
    """What check_grad found. True (``assert check_grad(...)``) iff fn agrees on every case.

    Attributes:
        agrees: no mismatch on any case. checked / failed: cases run and failing, by_kind: kind -> [failed, run].
        findings: the mismatches of the counterexample (the first failing case). counterexample: that case.
        shrunk, shrunk_findings: the minimal failing case found from it, and its mismatches.
        diagnosis: what kind of mistake it is, or None. seed, command: reproduce the run.
    """

    agrees: bool
    target: str
    net: Net | MLP
    seed: int
    command: str
    dtype: str = "float64"
    checked: int = 0
    failed: int = 0
    by_kind: dict[str, list[int]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    counterexample: Case | None = None
    shrunk: Case | None = None
    shrunk_findings: list[Finding] = field(default_factory=list)
    diagnoses: list[str] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)  # cases whose exact value no precision decided (not judged)

    def __bool__(self) -> bool:
        return self.agrees

    @property
    def diagnosis(self) -> str | None:
        return "; ".join(self.diagnoses) or None

    def __repr__(self) -> str:  # what pytest shows for a failed `assert check_grad(...)`
        if self.agrees:
            return f"<check_grad: {self.target} agrees on {self.checked} cases, seed {self.seed}>"
        first = self.findings[0].describe(reproduce=False) if self.findings else "?"
        return (
            f"<check_grad: {self.target} disagrees on {self.failed}/{self.checked} cases: {first}; "
            f"diagnosis: {self.diagnosis or 'none'}; reproduce: {self.command}>"
        )

    def raise_if_failed(self) -> None:
        """Raise `derive.VerificationError` with the report when fn disagrees."""
        if not self.agrees:
            raise VerificationError(self.report())

    def report(self) -> str:
        from derivcheck.report.derivation import net_subtitle  # the net in words, as the reports say it

        kinds = ", ".join(f"{k} {f}/{n}" for k, (f, n) in self.by_kind.items())
        head = [
            f"check-grad {self.target} ({self.dtype}) on a net of {net_subtitle(self.net)}",
            f"{self.checked} cases, seed {self.seed}: {self.failed} disagree with the 50-digit ground truth ({kinds})",
        ]
        if self.undecided:  # not judged, and said: an undecided case never counts as agreeing
            head.append(
                f"{len(self.undecided)} more case(s) not judged: the exact value is undecided (a kink inside its "
                f"ball at 200 digits), e.g. {self.undecided[0]}"
            )
        if self.agrees:
            said = f"every case judged ({self.checked})" if self.undecided else "every case"
            return "\n".join(head + [f"agrees with the ground truth on {said}"])
        out = head + [f"counterexample ({_describe(self.counterexample)}):"]
        out += [f"  {m.describe(reproduce=False)}" for m in self.findings]
        out += [f"diagnosis: {d}" for d in self.diagnoses] or ["diagnosis: none of the known mistakes fits"]
        if self.shrunk is not None:
            out += [
                f"shrunk counterexample ({_describe(self.shrunk)}):",
                *(f"  {line}" for line in _numbers(self.shrunk)),
                *(f"  {m.describe(reproduce=False)}" for m in self.shrunk_findings),
            ]
        return "\n".join(out + [f"reproduce: {self.command}"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "agrees": self.agrees,
            "target": self.target,
            "net": self.net.describe(),
            "seed": self.seed,
            "dtype": self.dtype,
            "checked": self.checked,
            "failed": self.failed,
            "by_kind": self.by_kind,
            "findings": [finding_dict(m) for m in self.findings],
            "diagnoses": self.diagnoses,
            "undecided": self.undecided,
            "shrunk": None
            if self.shrunk is None
            else {
                "widths": list(self.shrunk.net.widths),
                "batch": self.shrunk.batch,
                "findings": [finding_dict(m) for m in self.shrunk_findings],
            },
            "command": self.command,
        }


def _describe(case: Case | None) -> str:
    if case is None:
        return "?"
    n = case.net
    widths = "-".join(str(w) for w in n.widths)
    return f"{case.describe()}; widths {widths}, B = {case.batch}" + (f", D = {n.dim}" if n.spatial else "")


def _numbers(case: Case) -> list[str]:
    fmt = lambda a: np.array2string(np.asarray(a), separator=", ", precision=17, max_line_width=200).replace("\n", "")  # noqa: E731
    p = case.params
    arrays = p.Z if case.net.spatial else p.W
    out = [f"{'Z' if case.net.spatial else 'W'} = [{', '.join(fmt(a) for a in arrays)}]"]  # type: ignore[union-attr]
    if p.theta is not None:
        out.append(f"theta = [{', '.join(fmt(t) for t in p.theta)}]")
    if p.b is not None:
        out.append(f"b = [{', '.join(fmt(v) for v in p.b)}]")
    return out + [f"X = {fmt(case.X)}", f"Y = {fmt(case.Y)}"]
