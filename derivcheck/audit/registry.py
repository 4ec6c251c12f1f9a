"""The audit's result types and its registry of checks.

A check is one function ``fn(ctx: Context) -> Check`` registered under its name with `@check`; the
audit runs them in `CHECKS` order. Exact checks (symbolic, with numeric scans where SymPy cannot
decide) run inside the audit's SymPy time budget; numeric checks (``numeric=True``) run the engines
and are skipped with ``engines=False``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from derivcheck.audit.facts import Facts
from derive import SpecError
from derive.primitives import Kernel

__all__ = ["CHECKS", "VERDICTS", "Check", "Audit", "Context", "REGISTRY", "NUMERIC", "check", "worst", "jsonable"]

#: every check, in the order the audit runs and reports them
CHECKS = (
    "real_finite",
    "differentiable",
    "gradient_at_coincidence",
    "hessian_at_coincidence",
    "phi",
    "bounded",
    "decay",
    "lipschitz",
    "sign_range",
    "float32",
    "engines_agree",
)
# "skipped": a check that could not run (it is never a pass; an audit whose worst verdict is skipped fails)
VERDICTS = ("pass", "warn", "skipped", "fail")


@dataclass
class Check:
    """One audit check. `evidence["decided"]` says "symbolic", "numeric" or "symbolic+numeric"."""

    name: str
    verdict: str
    detail: str
    evidence: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "verdict": self.verdict,
            "detail": self.detail,
            "evidence": jsonable(self.evidence),
        }


@dataclass
class Audit:
    """The result of auditing one kernel (or penalty, `kind`); `data` keeps the facts and arrays for the
    report's plots."""

    kernel: str
    params: dict[str, float]
    formula: str
    checks: list[Check]
    seed: int
    seconds: float = 0.0
    data: dict = field(default_factory=dict, repr=False)
    kind: str = "kernel"  # or "penalty" (derivcheck.audit.penalty: `kernel` and `formula` hold rho)

    @property
    def verdict(self) -> str:
        return worst(c.verdict for c in self.checks)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)


@dataclass
class Context:
    """What a check reads: the kernel, its shared facts, the seed (and a generator drawn from it, shared
    by the exact checks in order), hypothesis examples, `data` where checks leave plot data, and the
    user's network if one was given."""

    kernel: Kernel
    facts: Facts
    seed: int
    rng: np.random.Generator
    examples: int
    data: dict = field(default_factory=dict)
    net: Any = None  # the user's derive.Net (audit-kernel --net): engines_agree runs on its architecture


CheckFn = Callable[[Context], Check]
REGISTRY: dict[str, CheckFn] = {}
NUMERIC: set[str] = set()


def check(name: str, *, numeric: bool = False) -> Callable[[CheckFn], CheckFn]:
    """Register `fn` as the check `name` (one of `CHECKS`); `numeric` checks run the engines."""
    if name not in CHECKS:
        raise SpecError(f"unknown audit check {name!r}", "add its name to derivcheck.audit.registry.CHECKS")

    def register(fn: CheckFn) -> CheckFn:
        REGISTRY[name] = fn
        if numeric:
            NUMERIC.add(name)
        return fn

    return register


def worst(verdicts) -> str:
    """The worst of some verdicts (fail > skipped > warn > pass); "pass" for none."""
    return max(verdicts, key=VERDICTS.index, default="pass")


def jsonable(obj: Any):
    """`obj` with every value JSON can hold as itself (inf/nan floats as strings, others as str)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (bool, str)) or obj is None:
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if np.isfinite(v) else ("inf" if v > 0 else "-inf" if v < 0 else "nan")
    return str(obj)
