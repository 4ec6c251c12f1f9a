"""The one failure path: `Finding` (one check: quantity, place, engines, both values, error, tolerance,
seed, command), `report` (records a failed finding or raises it as `derive.VerificationError`),
`Findings` (a run's collector) and `MEASURES` (the error measures a finding can carry)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from derive import SpecError, VerificationError

__all__ = ["MEASURES", "Finding", "report", "Findings"]


#: error measure -> (how the message names it, whether the error must stay at or below the tolerance).
#: "slope" is the other way round: the tolerance is the minimum slope.
MEASURES = {
    "rel": ("relative error", True),
    "ulp": ("error in ulps", True),
    "abs": ("absolute error", True),
    "slope": ("fitted slope", False),
    "shape": ("shape", True),
}


def _num(x: Any) -> str:
    """A value as printed in a finding: floats to every digit (shortest round-trip repr)."""
    if isinstance(x, (float, np.floating)):
        return repr(float(x))
    return x if isinstance(x, str) else repr(x)


@dataclass
class Finding:
    """One check: which quantity where, which engine against which reference, both values, the error
    in its measure, the tolerance, and the seed and command that reproduce it.

    Attributes:
        quantity: "dZ", "hvp", "translation", "grad" (Taylor), a formula claim's quantity, ...
        engine: who computed `value` ("manual", "torch-cpu", "claim 'x'", "taylor").
        error: the error in `measure` units (for "slope", the fitted slope itself).
        tol: the tolerance (for "slope", the minimum slope).
        where: the worst entry, e.g. " of layer 2, node 1, dim 0" (layers 1-based, as in MATH.md).
        value, truth: the compared entries (or scalars: a residual and 0, a slope and its order).
        measure: a key of `MEASURES`. reference: what `truth` is ("ground truth", "manual engine").
        ulp: the same difference in ulps of the engine's dtype (entry comparisons), else NaN.
        seed, command: the seed of the case and the one-line command that reproduces it.
        note: what went wrong when it is not a number (a shape, an undefined formula).
    """

    quantity: str
    engine: str
    error: float
    tol: float
    where: str = field(default="", kw_only=True)
    value: Any = field(default=float("nan"), kw_only=True)
    truth: Any = field(default=float("nan"), kw_only=True)
    measure: str = field(default="rel", kw_only=True)
    reference: str = field(default="ground truth", kw_only=True)
    ulp: float = field(default=float("nan"), kw_only=True)
    seed: int | None = field(default=None, kw_only=True)
    command: str | None = field(default=None, kw_only=True)
    note: str = field(default="", kw_only=True)

    def __post_init__(self):
        if self.measure not in MEASURES:
            raise SpecError(f"unknown error measure {self.measure!r}", f"use one of {', '.join(MEASURES)}")

    @property
    def ok(self) -> bool:
        """Within tolerance (NaN errors fail)."""
        if self.note:
            return False
        below = MEASURES[self.measure][1]
        return bool(self.error <= self.tol) if below else bool(self.error > self.tol)

    @property
    def rel(self) -> float:
        """The relative error (NaN for other measures)."""
        return self.error if self.measure == "rel" else float("nan")

    def describe(self, *, reproduce: bool = True) -> str:
        """One line: quantity, place, engines, both values, error and tolerance, seed, command."""
        s = f"{self.quantity}{self.where} ({self.engine} vs {self.reference}): {_num(self.value)} vs {_num(self.truth)}, "
        name, below = MEASURES[self.measure]
        if self.note:
            s += self.note
        elif below:
            s += f"{name} {self.error:.3g} {'<=' if self.ok else '>'} tolerance {self.tol:.3g}"
            if self.measure == "rel" and not np.isnan(self.ulp):
                s += f" ({self.ulp:.3g} ulp)"
        else:
            s += f"{name} {self.error:.3f} {'above' if self.ok else 'not above'} the minimum {self.tol:.3g}"
        if self.seed is not None:
            s += f"; seed {self.seed}"
        if reproduce and self.command:
            s += f"; reproduce: {self.command}"
        return s


def report(finding: Finding, *, into: list[Finding] | None = None, raise_: bool = False) -> Finding:
    """The one failure path. A failed `finding` is appended to `into` and, with `raise_`, raised as
    `derive.VerificationError` (its `.finding` is the finding); a passing one is returned untouched.

    Raises:
        VerificationError: `finding` failed and `raise_` is set.
    """
    if finding.ok:
        return finding
    if into is not None:
        into.append(finding)
    if raise_:
        raise VerificationError(finding.describe(), finding=finding)
    return finding


class Findings:
    """Collects the findings of one run (one case, one claims file) with its seed and command.

    `findings.report(f)` fills in the seed and command when `f` has none and passes it to `report`:
    `checks` holds every finding, `failures` the failed ones; with `raise_` the first failure raises.
    """

    def __init__(self, *, seed: int | None = None, command: str | None = None, raise_: bool = False):
        self.seed, self.command, self.raise_ = seed, command, raise_
        self.checks: list[Finding] = []
        self.failures: list[Finding] = []

    def report(self, finding: Finding) -> Finding:
        if finding.seed is None:
            finding.seed = self.seed
        if finding.command is None:
            finding.command = self.command
        self.checks.append(finding)
        return report(finding, into=self.failures, raise_=self.raise_)

    @property
    def ok(self) -> bool:
        return not self.failures
