"""`audit(spec)`: run every registered check on one kernel, in `CHECKS` order.

The exact checks share one SymPy time budget (`derive.step_limits.budget`); the numeric checks run the
engines afterwards, unless g is not even real and finite (then they fail as "not run").
"""

from __future__ import annotations

import time
from functools import cached_property
from typing import Any

import numpy as np

from derivcheck.audit import coincidence, shape  # noqa: F401  (each registers its checks)
from derivcheck.audit import engines as engine_checks  # noqa: F401
from derivcheck.audit import float32 as float32_check  # noqa: F401
from derivcheck.audit.facts import facts, numeric_forms
from derivcheck.audit.registry import CHECKS, NUMERIC, REGISTRY, Audit, Check, Context
from derive import KERNELS, Net, SpecError, kernel
from derive.step_limits import Unfinished, attempt, run_limited
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
    try:  # the exact checks in one supervised child (each SymPy step in it keeps its own limit)
        exact = run_limited(_exact_checks, k, seed, examples, net, budget, engines, seconds=_EXACT_SECONDS)
    except Unfinished:  # that child gave no answer at all: here, each step in a child of its own
        exact = _exact_checks(k, seed, examples, net, budget, engines)
    facts_, checks, data, rng_state, cached = exact
    # the kernel's exact values found there (g'(0+), phi ...), for this object and the one the engines'
    # nets build from the same parameters (derive.kernel caches it by name and values)
    for target in {id(x): x for x in (k, kernel(k.name, k.params))}.values():
        for name, value in cached.items():
            target.__dict__.setdefault(name, value)
    facts_.k = k
    facts_.num = numeric_forms(facts_)
    rng = np.random.default_rng(seed)
    rng.bit_generator.state = rng_state
    ctx = Context(k, facts_, seed, rng, examples, data, net)
    data["facts"] = ctx.facts
    if engines:
        if checks[0].verdict != "fail":  # real_finite
            checks += [REGISTRY[name](ctx) for name in CHECKS if name in NUMERIC]
        else:
            why = "not run: g is not real and finite on [0, inf) (see real_finite)"
            checks += [Check(name, "skipped", why, {"decided": "not run"}) for name in CHECKS if name in NUMERIC]
    formula = KERNELS[spec][0] if spec in KERNELS else spec
    return Audit(spec, dict(k.params), formula, checks, seed, time.perf_counter() - t0, data)


#: seconds the child of the exact checks may take: its SymPy steps have their own limits and share the
#: budget, so this only bounds the numeric scans between them (a day: no limit of its own)
_EXACT_SECONDS = 86400.0


#: the kernel's exact values the engines read beyond the exact checks' (derived with them when the
#: engines run: they come back with the checks instead of each costing the parent a child of its own)
_ENGINE_FACTS = ("phi0_finite", "phi_over_g", "psi0", "hessian_at_0")


def _exact_checks(k, seed: int, examples: int, net, budget: float, engines: bool) -> tuple:
    """The exact checks, in `CHECKS` order, within the SymPy `budget`: (facts without their NumPy forms,
    checks, the data they left, the generator's state after them, the kernel's cached exact values),
    all of which pickle (the child sends them back)."""
    data: dict[str, Any] = {}
    with sympy_budget(budget):
        ctx = Context(k, facts(k), seed, np.random.default_rng(seed), examples, data, net)
        checks = [REGISTRY[name](ctx) for name in CHECKS if name not in NUMERIC]
    if engines and checks[0].verdict != "fail":
        for name in _ENGINE_FACTS:  # each its own step (its own limit), as when the engines ask
            attempt(getattr, k, name)
    ctx.facts.num = {}  # NumPy functions do not pickle: the caller rebuilds them (`numeric_forms`)
    cached = {n: v for n, v in vars(k).items() if isinstance(getattr(type(k), n, None), cached_property)}
    return ctx.facts, checks, data, ctx.rng.bit_generator.state, cached
