"""`audit(spec)`: run every registered check on one kernel, in `CHECKS` order.

The exact checks share one SymPy time budget (`derive.step_limits.budget`); the numeric checks run the
engines afterwards, unless g is not even real and finite (then they fail as "not run").
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from derivcheck.audit import coincidence, shape  # noqa: F401  (each registers its checks)
from derivcheck.audit import engines as engine_checks  # noqa: F401
from derivcheck.audit import float32 as float32_check  # noqa: F401
from derivcheck.audit.facts import facts
from derivcheck.audit.registry import CHECKS, NUMERIC, REGISTRY, Audit, Check, Context
from derive import KERNELS, Net, SpecError, kernel
from derive.step_limits import budget as sympy_budget

__all__ = ["audit"]


def audit(
    spec: str,
    params: dict[str, float] | None = None,
    *,
    seed: int = 0,
    examples: int = 25,
    engines: bool = True,
    budget: float = 20.0,
    net: Net | None = None,
) -> Audit:
    """Audit kernel `spec` (a library name or a formula in r) with parameter values `params`.

    Args:
        spec: e.g. "gaussian" or "exp(-r**2/s**2)".
        params: {name: value}; library defaults fill the rest.
        seed: seed of every random draw (float32 nets, hypothesis, dead-zone layout).
        examples: hypothesis examples for engines_agree.
        engines: run the numeric checks float32 and engines_agree (False: exact checks only).
        budget: seconds of SymPy time shared by the exact checks (steps beyond it are reported as
            undecided and the numeric evidence decides).
        net: the user's spatial network (its kernel should be `spec`): engines_agree draws its cases
            on that architecture (widths, D, activations, loss, bias) instead of the audit's small nets.

    Raises:
        SpecError: unknown kernel, disallowed syntax, missing or bad parameter values; a negative
            seed, fewer than 1 example or a budget <= 0.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpecError(f"seed {seed!r} must be an integer >= 0", "pass --seed N with N >= 0")
    if isinstance(examples, bool) or not isinstance(examples, int) or examples < 1:
        raise SpecError(f"examples {examples!r} must be an integer >= 1", "pass --examples N with N >= 1")
    if not budget > 0:
        raise SpecError(f"SymPy time budget {budget!r} must be positive", "pass budget in seconds > 0")
    t0 = time.perf_counter()
    k = kernel(spec, tuple(sorted((params or {}).items())))
    data: dict[str, Any] = {}
    with sympy_budget(budget):
        ctx = Context(k, facts(k), seed, np.random.default_rng(seed), examples, data, net)
        checks = [REGISTRY[name](ctx) for name in CHECKS if name not in NUMERIC]
    data["facts"] = ctx.facts
    if engines:
        if checks[0].verdict != "fail":  # real_finite
            checks += [REGISTRY[name](ctx) for name in CHECKS if name in NUMERIC]
        else:
            why = "not run: g is not real and finite on [0, inf) (see real_finite)"
            checks += [Check(name, "skipped", why, {"decided": "not run"}) for name in CHECKS if name in NUMERIC]
    formula = KERNELS[spec][0] if spec in KERNELS else spec
    return Audit(spec, dict(k.params), formula, checks, seed, time.perf_counter() - t0, data)
