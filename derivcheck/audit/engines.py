"""The engines_agree check: manual, torch and the 50-digit symbolic ground truth against each other
on hypothesis-drawn nets with the audited kernel (plain, nearly coincident and coincident node pairs),
first order and HVPs."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import partial
from random import Random
from typing import Any

import numpy as np

from derivcheck.audit.float32 import audit_net
from derivcheck.audit.registry import Check, Context, check
from derive import Net, Params, SpecError
from derive import audit_math as am
from derive.decide import to_float
from derive.primitives import Kernel
from derive.step_limits import Timeout, Unfinished, attempt, budget, budget_left, run_limited, step_budget

__all__ = ["engines_agreement"]


_UNDECIDED = "undecided"


def _outcome(fn: Callable, *args, supervised: bool = False, **kw):
    """(result, None), (None, why the engine refused), or (None, "undecided ...") when it did not
    finish within one SymPy step budget (the 50-digit ground truth of exp(r**64) at r = 3 is
    tanh(exp(3^64)): mpmath can spend minutes on it; no verdict is drawn from such a case).

    `supervised`: run it in a child process under that limit (derive.step_limits.run_limited): the
    ground truth, which user input can make arbitrarily expensive. The float engines run here: their
    cost is fixed by the (small) drawn net, and the search's own budget bounds them."""
    try:
        if supervised:
            return run_limited(partial(fn, **kw), *args, seconds=step_budget()), None
        return fn(*args, **kw), None
    except SpecError as exc:
        return None, str(exc).split(";")[0]
    except Unfinished as exc:
        left = budget_left()
        if left is not None and left <= 0.05:
            raise  # the search's budget is spent: it stops (derivcheck.audit.engines_agreement)
        return None, f"{_UNDECIDED}: {exc.why}"


def _kernel_fact(k: Kernel, name: str):
    """The kernel's exact fact `name` (a cached property): as derived already (the audit's exact checks
    derive it), else in a supervised step (None when undecided)."""
    if name in vars(k):
        return getattr(k, name)
    return attempt(getattr, k, name)[0]


def _case_strategy(k: Kernel, fixed: bool, user: Net | None = None):
    from hypothesis import strategies as st

    from numeric import strategies as nst

    phi0_finite = _kernel_fact(k, "phi0_finite") is True
    kinds = ["plain", "near"] + (["coincident"] if phi0_finite else [])

    @st.composite
    def case(draw):
        if user is not None:  # the user's architecture (audit-kernel --net)
            net = user
            X, Y = draw(nst.data_for(net, batch=st.integers(1, 3) if not fixed else st.just(2)))
        elif fixed:  # one shape, so the exact program is compiled once
            net = audit_net(k, (2, 3, 1), 2)
            X, Y = draw(nst.data_for(net, batch=2))
        else:
            L = draw(st.integers(2, 3))
            net = audit_net(
                k,
                tuple(draw(st.integers(1, 3)) for _ in range(L)),
                draw(st.integers(1, 3)),
                hidden=draw(st.sampled_from(("tanh", "sigmoid", "softplus"))),
                loss=draw(st.sampled_from(("mse", "sse_half"))),
            )
            X, Y = draw(nst.data_for(net))
        params = draw(nst.params_for(net))
        kind = draw(st.sampled_from(kinds))
        if kind != "plain":
            i, j = draw(st.integers(0, net.widths[1] - 1)), draw(st.integers(0, net.widths[0] - 1))
            sep = 0.0 if kind == "coincident" else 10.0 ** -draw(st.integers(3, 7))
            params.Z[1][i] = params.Z[0][j] + sep * np.eye(net.dim)[0]
        return kind, net, params, X, Y

    return case()


def _disagreement(ref, other, ref_name: str, name: str) -> tuple[float, str]:
    """Largest tolerance-relative error of `other` against `ref` over loss, dW, dZ, dX: (ratio, text)."""
    from numeric.compare import check_close, quantities

    worst_ratio, text = 0.0, ""
    (a, why_a), (b, why_b) = ref, other
    if any(w and w.startswith(_UNDECIDED) for w in (why_a, why_b)):
        return 0.0, f"{ref_name}: {why_a or 'computed'}; {name}: {why_b or 'computed'} (no evidence)"
    if (a is None) != (b is None):
        return float("inf"), f"{ref_name}: {why_a or 'computed'}; {name}: {why_b or 'computed'}"
    if a is None:
        return 0.0, "both refused"
    qa, qb = quantities(a), quantities(b)
    for q in qa:
        if q in qb and q != "db":
            fnd = check_close(q, name, qb[q], qa[q])
            ratio = fnd.rel / fnd.tol
            if ratio >= worst_ratio:
                worst_ratio, text = ratio, f"{fnd.quantity}{fnd.where}: rel {fnd.rel:.3g} (tol {fnd.tol:g})"
    return worst_ratio, text


def engines_agreement(k: Kernel, seed: int, examples: int = 25, exact_examples: int = 4, net: Net | None = None) -> dict:
    """Hypothesis-drawn nets with this kernel (plain, nearly coincident and, when phi(0) is finite,
    coincident node pairs): manual vs torch on varied nets, and both against the 50-digit symbolic
    ground truth (derive.symbolic) on one fixed shape; second order where the HVP engines exist.
    With `net` (the user's network) every first-order case has that architecture."""
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample

    from numeric.engines import ENGINES

    manual, torch_, symbolic = ENGINES["manual"], ENGINES["torch-cpu"], ENGINES.get("symbolic")
    result = {
        "examples": examples,
        "seed": seed,
        "max_error_over_tol": 0.0,
        "worst": "",
        "counterexample": None,
        "symbolic": "not available (no symbolic engine in numeric.engines.ENGINES)" if symbolic is None else "used",
        "second_order": "not available",
        "architecture": "drawn nets" if net is None else _words(net),
    }
    record: dict[str, Any] = {"max": 0.0, "worst": ""}

    def compare(case, pairs) -> bool:
        left = budget_left()
        if left is not None and left <= 0.05:  # Timeout is a BaseException: it ends the search
            raise Timeout("the search's budget is spent")
        kind, net, params, X, Y = case
        outs = {name: _outcome(fn, net, params, X, Y, supervised=name == "symbolic") for name, fn in pairs}
        names = list(outs)
        bad = False
        for other in names[1:]:
            ratio, text = _disagreement(outs[names[0]], outs[other], names[0], other)
            if ratio > record["max"] or not record["worst"]:
                record["max"], record["worst"] = (
                    max(ratio, record["max"]),
                    f"{other} vs {names[0]} ({kind}): {text}",
                )
            bad |= ratio > 1
        return bad

    cfg: dict[str, Any] = dict(
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate, Phase.shrink],
    )
    runs = [(False, examples, [("torch", torch_.gradients), ("manual", manual.gradients)])]
    if symbolic is not None:
        runs.append(
            (
                True,
                exact_examples,
                [
                    ("symbolic", symbolic.gradients),
                    ("manual", manual.gradients),
                    ("torch", torch_.gradients),
                ],
            )
        )
    # compile the kernel once, outside the per-case time limits (its SymPy steps have their own
    # budget, and a compile cut short by a case's limit would be repeated for every drawn case)
    from derive import compile_net

    warm = audit_net(k, (2, 2, 1), 2)
    for backend in ("numpy", "torch"):
        compile_net(warm, backend)
    if symbolic is not None:  # the exact shape's 50-digit program too: each case's child then only evaluates it
        from derive.symbolic.compiled_program import cached_mpmath_program

        with contextlib.suppress(SpecError):  # (a case reports it)
            cached_mpmath_program(audit_net(k, (2, 3, 1), 2), 2, False, None)
    for fixed, n, pairs in runs:
        try:
            # the search and its shrinking share a few step budgets: beyond them, no more evidence (each
            # case checks the budget before it starts, and the ground truth's child is limited by it)
            with budget(6 * step_budget()):
                found = find(
                    _case_strategy(k, fixed, net),
                    lambda c: compare(c, pairs),  # called within this iteration (no late binding)
                    settings=settings(max_examples=n, **cfg),
                    random=Random(seed),
                )
        except NoSuchExample:
            continue
        except Unfinished:
            result["undecided"] = f"the {'exact' if fixed else 'drawn'} comparison stopped after {6 * step_budget():g} s"
            continue
        kind, net, params, X, Y = found
        result["counterexample"] = {
            "kind": kind,
            "net": net.describe(),
            "Z": [z.tolist() for z in params.Z],
            "X": X.tolist(),
            "Y": Y.tolist(),
        }
        compare(found, pairs)  # the shrunk case's own error is the evidence
    result["max_error_over_tol"], result["worst"] = record["max"], record["worst"]
    result["second_order"] = _second_order(k, seed, symbolic)
    return result


def _second_order(k: Kernel, seed: int, symbolic) -> dict | str:
    from numeric.compare import check_close
    from numeric.engines import ENGINES

    # Any: an Engine's hvp is None without second order; the `missing` check below returns before a None is called
    engines: list[tuple[str, Any]] = [(n, ENGINES[e].hvp) for n, e in (("manual", "manual"), ("torch", "torch-cpu"))]
    missing = [n for n, fn in engines if fn is None]
    if missing:
        return f"not available (no hvp for {'/'.join(missing)} in numeric.engines.ENGINES)"
    rng = np.random.default_rng(seed)
    net = audit_net(k, (2, 3, 1), 2)
    # Keep every edge inside the kernel's scale (a compact support would otherwise make H v = 0 = H v).
    spread = 0.3 * min([1.5] + [to_float(p) for p in am.breakpoints(k, orders=(0,))[0]])
    errors: dict[str, float] = {}
    found = []
    ref_name = "symbolic" if symbolic is not None and symbolic.hvp is not None else "torch"
    size = 0.0
    hess_at_0 = _kernel_fact(k, "hessian_at_0") is True
    kinds = ("plain", "plain", "coincident" if hess_at_0 else "plain")
    for kind in kinds:
        Z = [rng.uniform(-spread, spread, (n, net.dim)) for n in net.widths]
        if kind == "coincident":  # the Hessian exists there (limit g''(0) I): the engines must agree on it
            Z[1][0] = Z[0][0]
        X, Y = rng.normal(size=(2, 2)), rng.normal(size=(2, 1))
        V = [rng.normal(size=z.shape) for z in Z]
        P = Params(Z=Z)
        try:
            outs = {n: fn(net, P, X, Y, V) for n, fn in engines}
            ref = symbolic.hvp(net, P, X, Y, V) if symbolic is not None and symbolic.hvp is not None else outs.pop("torch")
        except (TypeError, AttributeError) as exc:
            return f"not available (hvp signature: {exc})"
        except SpecError as exc:
            return f"refused: {str(exc).split(';')[0]}"
        size = max(size, max(float(np.abs(v).max()) for v in ref))
        for n, v in outs.items():
            fnd = check_close("hvp", n, v, ref)
            found.append(fnd)
            errors[n] = max(errors.get(n, 0.0), fnd.rel)
    return {
        "reference": ref_name,
        "cases": list(kinds),
        "errors": errors,
        "max|Hv|": size,
        "tolerance": found[0].tol,
        "ok": all(f.ok for f in found) and size > 0,
    }


@check("engines_agree", numeric=True)
def engines_agree(ctx: Context) -> Check:
    """manual and torch agree with each other on hypothesis-drawn nets with this kernel (plain, nearly
    coincident and, where phi(0) is finite, coincident node pairs), and with the 50-digit symbolic
    ground truth on one fixed shape; HVPs too. A disagreement is shrunk to a counterexample."""
    k, seed, examples = ctx.kernel, ctx.seed, ctx.examples
    res = engines_agreement(k, seed, examples, net=ctx.net)
    ev = {"decided": "numeric", "how": "hypothesis-drawn nets, shrunk on disagreement", **res}
    so = res["second_order"]
    so_text = "second order: " + (
        so if isinstance(so, str) else f"max rel error {max(so['errors'].values()):.2g} vs {so['reference']}"
    )
    if res["counterexample"] is not None:
        return Check(
            "engines_agree",
            "fail",
            f"engines disagree: {res['worst']} (shrunk counterexample in the evidence); {so_text}",
            ev,
        )
    if isinstance(so, dict) and not so["ok"] and so["max|Hv|"] == 0:
        # no evidence is not a disagreement: every probe edge lies where g is flat to float64
        return Check(
            "engines_agree",
            "warn",
            f"first order agrees ({res['worst']}); second order undecided: H v is exactly 0 on every "
            f"probe (the kernel is flat at the probe distances), so it is no evidence",
            ev,
        )
    if isinstance(so, dict) and not so["ok"]:
        return Check(
            "engines_agree",
            "fail",
            f"second-order engines disagree with {so['reference']}: {so_text} (tolerance {so['tolerance']:g}); "
            f"first order agrees ({res['worst']})",
            ev,
        )
    ref = "the 50-digit symbolic ground truth and each other" if res["symbolic"] == "used" else "each other"
    return Check(
        "engines_agree",
        "pass",
        f"manual and torch agree with {ref} on {examples} drawn "
        f"{'nets' if ctx.net is None else 'cases of a net of ' + _words(ctx.net)}; largest "
        f"error {res['max_error_over_tol']:.2g} x tolerance ({res['worst']}); {so_text}"
        + (f"; search cut short: {res['undecided']} (--budget)" if res.get("undecided") else ""),
        ev,
    )


def _words(net) -> str:
    """The net in words, as every verb names it (never a repr)."""
    from derivcheck.report.derivation import net_subtitle

    return net_subtitle(net)
