"""The facts every audit check reads: the kernel's exact facts (`derive.audit_math.kernel_facts`)
with the scan grid and the NumPy forms of g, g', g'' and phi (`numeric.scan` evaluates them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields

import numpy as np

from derive import audit_math as am
from derive.decide import to_float
from derive.primitives import Kernel
from numeric import scan

__all__ = ["Facts", "facts", "numeric_forms"]


@dataclass
class Facts(am.KernelFacts):
    """`derive.audit_math.KernelFacts` plus what the numeric scans need.

    Attributes:
        grid: float64 distances to scan (`numeric.scan.grid`).
        num: NumPy functions of r: "g", "dg", "d2g", "phi".
    """

    grid: np.ndarray = field(default_factory=lambda: np.zeros(1))
    num: dict[str, Callable] = field(default_factory=dict)


def facts(k: Kernel) -> Facts:
    """The shared facts of kernel `k` (SymPy steps within the caller's `derive.step_limits.budget`)."""
    exact = am.kernel_facts(k)
    f = Facts(**{x.name: getattr(exact, x.name) for x in fields(exact)})
    f.grid = scan.grid([v for _, v in k.params], [to_float(p) for p in f.points])
    f.num = numeric_forms(f)
    return f


def numeric_forms(f: Facts) -> dict[str, Callable]:
    """The NumPy functions of r the scans evaluate: "g", "dg", "d2g", "phi"."""
    return {name: am.numeric_form(getattr(f, name)) for name in ("g", "dg", "d2g", "phi")}
