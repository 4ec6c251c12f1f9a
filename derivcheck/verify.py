"""`derivcheck verify`: the verification matrix.

Every library kernel x activation x loss on small nets, plus seeded hypothesis-drawn nets, through
every engine: symbolic ground truth (50 digits), manual (float64 and float32), torch CPU, torch CUDA
when present, central finite differences and the Taylor test; first order and H v. Writes
`results.json` atomically (schema in README).

With a network (``--net FILE`` or the network flags of `derivcheck.netspec`) the cases are that network's
instead: ``--cases`` drawn parameter sets and the adversarial ones (`derivcheck.verifynet`), judged the same way.
"""

from __future__ import annotations

import itertools
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from derive import ACTIVATIONS, KERNELS, LOSSES, MLP, Gradients, Net, Params, SpecError
from numeric.compare import (
    Finding,
    Findings,
    check_close,
    check_gradients,
    check_identity,
    permutation_residual,
    rotation_asymmetry,
    tolerance,
    translation_residual,
)
from numeric.engines import ENGINES as ENGINE_TABLE
from numeric.fd import fd_gradient, taylor_slope

from .netspec import add_net_arguments, net_from_args, net_given, net_table
from .provenance import atomic_write_json, check_out_path, provenance

__all__ = ["Case", "matrix_cases", "drawn_cases", "run_case", "run", "add_arguments", "ENGINES", "SCHEMA"]

SCHEMA = "derivcheck.results/1"
# The engines checked against the symbolic ground truth (numeric.engines), then the independent checks.
ENGINES = tuple(name for name in ENGINE_TABLE if name != "symbolic") + ("fd", "taylor", "hvp")
# H v is checked in the float64 engines (the R-operator, torch on the CPU and, when present, on CUDA),
# against the exact H v; an engine that cannot run here is recorded as skipped ("not run"), never as a pass.
HVP_ENGINES = tuple(e.name for e in ENGINE_TABLE.values() if e.name != "symbolic" and e.hvp is not None and e.dtype == np.float64)
ACTS = tuple(a if a != "leaky_relu" else "leaky_relu(alpha=0.1)" for a in ACTIVATIONS)
LOSS_SPECS = tuple(x if x != "huber" else "huber(delta=0.5)" for x in LOSSES)


@dataclass
class Case:
    """One verification case: a net, its parameters and data, and the seed that drew them."""

    id: str
    net: Net | MLP
    params: Params
    X: np.ndarray
    Y: np.ndarray
    seed: int
    kind: str = "drawn"  # or an adversarial kind of numeric.draws (verify --net)
    sep: float | None = None  # near/coincident cases: the distance of the placed node pair

    def spec(self) -> dict:
        out = {**net_table(self.net), "batch": int(self.X.shape[0])}
        return out if self.kind == "drawn" else {**out, "draw": self.kind, "separation": self.sep}


def _draw_case(case_id: str, net: Net, seed: int, batch: int = 2) -> Case:
    rng = np.random.default_rng(seed)
    Z = [np.round(rng.uniform(-1.2, 1.2, size=(n, net.dim)), 3) for n in net.widths]
    b = [np.round(rng.uniform(-0.5, 0.5, size=n), 3) for n in net.widths[1:]] if net.bias else None
    X = np.round(rng.uniform(-1.5, 1.5, size=(batch, net.widths[0])), 3)
    K = net.widths[-1]
    if net.loss == "bce":
        Y = np.round(rng.uniform(0.1, 0.9, size=(batch, K)), 3)
    elif net.loss == "softmax_ce":
        Y = rng.dirichlet(np.ones(K), size=batch)
    else:
        Y = np.round(rng.uniform(-1, 1, size=(batch, K)), 3)
    return Case(case_id, net, Params(Z=Z, b=b), X, Y, seed)


def matrix_cases(seed: int, quick: bool = False) -> list[Case]:
    """Every kernel x activation x loss (or, with quick, a covering set: each appears at least once)."""
    combos = list(itertools.product(KERNELS, ACTS, LOSS_SPECS))
    if quick:
        n = max(len(KERNELS), len(ACTS), len(LOSS_SPECS))
        ks, acts, ls = list(KERNELS), list(ACTS), list(LOSS_SPECS)
        combos = [(ks[i % len(ks)], acts[i % len(acts)], ls[i % len(ls)]) for i in range(n)]
    cases = []
    for i, (k, act, loss) in enumerate(combos):
        out = "sigmoid" if loss == "bce" else "identity"
        net = Net((2, 2, 2), dim=3, kernel=k, hidden=act, output=out, loss=loss, bias=(i % 2 == 0))
        cases.append(_draw_case(f"m{i:03d}", net, seed * 100003 + i))
    return cases


def drawn_cases(seed: int, count: int) -> list[Case]:
    """`count` nets drawn by the public hypothesis strategies, reproducibly from `seed`."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed

    from numeric import strategies

    out: list[Case] = []
    if count == 0:
        return out

    @hseed(seed)
    @settings(max_examples=4 * count, database=None, deadline=None, derandomize=False, suppress_health_check=list(HealthCheck))
    @given(strategies.cases())
    def collect(case):
        if len(out) < count:
            net, params, X, Y = case
            out.append(Case(f"h{len(out):03d}", net, params, X, Y, seed))

    collect()
    return out


def _smooth(net: Net | MLP) -> bool:
    """Finite differences and Taylor slopes assume the loss is C2 near the point."""
    rough = {"relu", "leaky_relu"}
    acts = {net.f(l).name for l in range(2, net.L + 1)}
    return (
        not acts & rough
        and net.objective.name not in ("mae", "huber")
        and not (net.spatial and net.kernel in ("wendland_c2", "cosine_cutoff"))
        and all(p.smooth for p in getattr(net, "penalties", ()))
    )  # derive decides each penalty


def _failure(f: Finding) -> dict:
    """A failed finding as results.json writes it (the reproducing command goes in its own field)."""
    return {"engine": f.engine, "quantity": f.quantity, "message": f.describe(reproduce=False)}


def run_case(case: Case, engines: tuple[str, ...], *, reproduce: str | None = None) -> dict:
    """All checks of one case; returns its JSON record (errors by engine and quantity, failures).
    Every check is a `numeric.compare.Finding` reported to one `Findings` (seed, `reproduce` command)."""
    net, p, X, Y = case.net, case.params, case.X, case.Y
    rec: dict = {
        "id": case.id,
        "net": net.describe(),
        "spec": case.spec(),
        "seed": case.seed,
        "errors": {},
        "identities": {},
        "failures": [],
        "skipped": [],
    }
    found = Findings(seed=case.seed, command=reproduce)

    def record(f: Finding, dtype=np.float64):
        found.report(f)
        rec["errors"].setdefault(f.engine, {})[f.quantity] = {
            "rel": f.rel,
            "ulp": f.ulp,
            "tol": f.tol,
            "pass": f.ok,
            "dtype": np.dtype(dtype).name,
        }

    truth = ENGINE_TABLE["symbolic"].gradients(net, p, X, Y, dps=50)
    runs: dict[str, tuple[Gradients, type[np.floating]]] = {}
    for name in (n for n in ENGINE_TABLE if n in engines):
        engine = ENGINE_TABLE[name]
        ok, why = engine.available()
        if ok:
            runs[name] = (engine.gradients(net, p, X, Y), engine.dtype)
        else:
            rec["skipped"].append(f"{name}: {why}")
    for name, (g, dt) in runs.items():
        ref = truth
        if dt != np.float64 and case.kind in ("near", "coincident"):
            # a placed node pair closer than the dtype resolves: the engine sees the rounded
            # coordinates, so it is judged against the ground truth at those (as check-grad does)
            try:
                ref = _truth_at(case, dt)
            except SpecError as exc:
                rec["skipped"].append(f"{name}: rounded to {np.dtype(dt).name} the pair coincides ({exc})")
                continue
        for f in check_gradients(g, ref, dtype=dt, engine=name):
            record(f, dt)
        if dt == np.float64 and p.Z is not None:
            S = abs(float(truth.loss))  # the problem scale floors the residuals (noise at stationary points)
            ids = {"translation": translation_residual(g.dZ, scale=S), "rotation": rotation_asymmetry(p.Z, g.dZ, scale=S)}
            rec["identities"][name] = ids
            for k, resid in ids.items():
                found.report(check_identity(k, name, resid))
    if "manual" in runs and net.spatial and net.L > 2 and net.widths[1] > 1:
        assert p.Z is not None  # verification cases are spatial nets with coordinates
        perm = np.roll(np.arange(net.widths[1]), 1)
        Zp = [z.copy() for z in p.Z]
        Zp[1] = Zp[1][perm]
        bp = None if p.b is None else [b.copy() for b in p.b]
        if bp is not None:
            bp[0] = bp[0][perm]
        tp = None if p.theta is None else [t.copy() for t in p.theta]
        if tp is not None:  # free amplitudes move with their nodes: rows of layer 2, columns of layer 3
            tp[0], tp[1] = tp[0][perm], tp[1][:, perm]
        gp = ENGINE_TABLE["manual"].gradients(net, Params(Z=Zp, b=bp, theta=tp), X, Y)
        g = runs["manual"][0]
        assert gp.dZ is not None and g.dZ is not None  # a spatial net's gradients include dZ
        res = permutation_residual(gp.dZ[1], g.dZ[1], perm)
        rec["identities"].setdefault("manual", {})["permutation"] = res
        found.report(check_identity("permutation", "manual", res))
    truth_flat = truth.flat()
    smooth = _smooth(net)
    if case.kind in ("near", "coincident") and (case.sep or 0.0) < 1e-3:
        smooth = False  # the difference step would cross the placed node pair
    if "fd" in engines:
        if smooth:
            record(check_close("grad", "fd", fd_gradient(net, p, X, Y), truth_flat, tol=tolerance(np.float64, "fd")))
        else:
            rec["skipped"].append("fd: loss not C2 here (kink in activation, loss or kernel)")
    rng = np.random.default_rng(case.seed)
    v = rng.normal(size=truth_flat.size)
    if "taylor" in engines:
        if smooth:
            t = taylor_slope(net, p, X, Y, runs.get("manual", (truth,))[0].flat(), v)
            rec["taylor"] = {"slope": t.slope, "expected": 2}
            found.report(t.finding())
        else:
            rec["skipped"].append("taylor: loss not C2 here")
    if "hvp" in engines:
        _hvp_checks(case, rec, record, rng)
    rec["failures"] = [_failure(f) for f in found.failures]
    rec["pass"] = found.ok
    return rec


def _truth_at(case: Case, dtype) -> Gradients:
    """The 50-digit ground truth at the case's numbers rounded to `dtype`."""
    r = lambda a: None if a is None else [np.asarray(x, dtype=dtype).astype(np.float64) for x in a]  # noqa: E731
    p = case.params
    X, Y = (np.asarray(a, dtype=dtype).astype(np.float64) for a in (case.X, case.Y))
    return ENGINE_TABLE["symbolic"].gradients(case.net, Params(Z=r(p.Z), W=r(p.W), b=r(p.b)), X, Y, dps=50)


def _hvp_checks(case: Case, rec: dict, record, rng) -> None:
    net, p, X, Y = case.net, case.params, case.X, case.Y
    if net.bias or not _smooth(net) or p.Z is None:
        rec["skipped"].append("hvp: checked on smooth nets without bias")
        return
    assert p.Z is not None  # verification cases are spatial nets with coordinates
    V = [rng.normal(size=z.shape) for z in p.Z] + [rng.normal(size=t.shape) for t in (p.theta or [])]
    exact = ENGINE_TABLE["symbolic"].hvp
    assert exact is not None  # the ground truth has second order
    try:
        truth = exact(net, p, X, Y, V, dps=50)
    except SpecError as exc:  # e.g. Hessian undefined at coincident nodes
        rec["skipped"].append(f"hvp: {exc}")
        return
    for name in HVP_ENGINES:
        ok, why = ENGINE_TABLE[name].available()
        if not ok:
            rec["skipped"].append(f"hvp {name}: not run ({why})")
            continue
        hvp = ENGINE_TABLE[name].hvp
        assert hvp is not None  # HVP_ENGINES lists engines with second order
        record(check_close("hvp", name, hvp(net, p, X, Y, V), truth, entries_as="dZ"))  # V: Z blocks


def _summarise(records: list[dict], engines) -> dict:
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


def _argv(args) -> list[str]:
    """The command line that reproduces this run (also when called from Python, not the shell)."""
    argv = ["verify", "--seed", str(args.seed), "--engines", args.engines, "--out", str(args.out)]
    if args.quick:
        argv.append("--quick")
    if args.drawn is not None:
        argv += ["--drawn", str(args.drawn)]
    if args.only:
        argv += ["--only", args.only]
    if net_given(args):
        argv += [*shlex.split(net_from_args(args).flags), "--cases", str(args.cases)]
    return argv


def add_arguments(p) -> None:
    p.add_argument("--quick", action="store_true", help="a covering subset (under 60 s)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random case (printed, recorded)")
    p.add_argument("--out", default="reports/build/results.json", help="results file (written atomically)")
    from .tables import add_json_argument

    add_json_argument(p, "the results (the same document as --out)")
    p.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help=f"comma-separated subset of {','.join(ENGINES)} (the symbolic ground truth always runs)",
    )
    p.add_argument("--drawn", type=int, default=None, help="number of hypothesis-drawn nets (default 24, quick 6)")
    p.add_argument("--only", default=None, help="run only the case with this id (as printed for a failure)")
    p.add_argument(
        "--cases", type=int, default=20, help="with a network (--net or flags): drawn parameter sets, plus the adversarial ones"
    )
    add_net_arguments(p)


def run(args) -> int:
    from rich import box
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from .tables import show

    console = Console(stderr=True)
    engines = tuple(e.strip() for e in args.engines.split(",") if e.strip())
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        raise SpecError(f"unknown engine {unknown[0]!r}", f"use a comma-separated subset of {','.join(ENGINES)}")
    check_out_path(args.out, "--out")
    if not engines:
        raise SpecError("no engine selected (--engines is empty)", f"use a comma-separated subset of {','.join(ENGINES)}")
    # No verdict without evidence: an engine that cannot run here is "not run" in every summary, and a
    # run in which nothing is compared with the ground truth is refused before it starts.
    not_run = {}
    for name in (n for n in ENGINE_TABLE if n in engines):
        ok, why = ENGINE_TABLE[name].available()
        if not ok:
            not_run[name] = why
    compared = [e for e in engines if e not in not_run and e != "taylor"]
    if not compared:
        what = ", ".join(f"{e} ({not_run[e]})" if e in not_run else e for e in engines)
        raise SpecError(
            f"--engines {args.engines!r} compares nothing with the ground truth here: {what}",
            "add an engine that runs on this machine, e.g. --engines manual,torch-cpu",
        )
    if args.seed < 0:
        raise SpecError(f"seed {args.seed} is negative", "use a seed >= 0")
    drawn = args.drawn if args.drawn is not None else (6 if args.quick else 24)
    if drawn < 0:
        raise SpecError(f"--drawn {drawn} is negative", "use a count >= 0")
    t0 = time.perf_counter()
    user = net_from_args(args) if net_given(args) else None
    if user is not None:
        from .verifynet import net_cases

        if args.quick or args.drawn is not None:
            raise SpecError(
                "--quick and --drawn choose the library matrix, not a network's cases", "with --net or network flags give --cases N"
            )

        cases = net_cases(user, args.seed, args.cases)
    else:
        cases = matrix_cases(args.seed, args.quick) + drawn_cases(args.seed, drawn)
    if args.only:
        cases = [c for c in cases if c.id == args.only]
        if not cases:
            raise SpecError(f"no case {args.only!r} for seed {args.seed}", "copy the id from a failure line")
    what = "" if user is None else f" of {user.net.describe()}"
    console.print(f"derivcheck verify: {len(cases)} cases{what}, seed {args.seed}, engines {','.join(engines)}")

    def reproduce(case_id: str) -> str:
        if user is not None:
            return f"derivcheck verify {user.flags} --cases {args.cases} --seed {args.seed} --only {case_id}"
        return f"derivcheck verify --seed {args.seed} --only {case_id}" + (" --quick" if args.quick else "")

    records = []
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True
    ) as bar:
        task = bar.add_task("verifying", total=len(cases))
        for case in cases:
            bar.update(task, description=f"{case.id} {case.net.describe()[:50]}")
            try:
                records.append(run_case(case, engines, reproduce=reproduce(case.id)))
            except SpecError as exc:
                records.append(
                    {
                        "id": case.id,
                        "net": case.net.describe(),
                        "spec": case.spec(),
                        "seed": case.seed,
                        "errors": {},
                        "identities": {},
                        "skipped": [],
                        "pass": False,
                        "failures": [{"engine": "input", "quantity": "-", "message": str(exc)}],
                    }
                )
            bar.advance(task)
    wall = time.perf_counter() - t0
    summary = _summarise(records, engines)
    failures = []
    for r in records:
        for f in r["failures"]:
            failures.append({**f, "case": r["id"], "net": r["net"], "reproduce": reproduce(r["id"])})
    n_checks = sum(len(q) for r in records for q in r["errors"].values()) + sum(
        len(i) for r in records for i in r["identities"].values()
    )
    if n_checks == 0 and not failures:
        raise SpecError(
            f"no check ran ({len(records)} cases, engines {','.join(engines)}): no verdict without evidence",
            "choose engines and cases that apply, e.g. --engines manual",
        )
    result = {
        "schema": SCHEMA,
        "provenance": provenance(args.seed, _argv(args)),
        "summary": {
            "verdict": "pass" if not failures else "fail",
            "cases": len(records),
            "checks": n_checks,
            "failures": len(failures),
            "wall_time_s": round(wall, 2),
            "quick": bool(args.quick),
            "engines": [e for e in engines if e not in not_run],
            "not_run": {e: why for e, why in not_run.items()},
        },
        **summary,
        "failures": failures,
        "cases": records,
    }
    out = atomic_write_json(Path(args.out), result)
    json_to = getattr(args, "json", None)  # run() is also called with a plain namespace
    if json_to is not None:
        from .tables import write_json

        write_json(json_to, result)
    # numbers never wrap or truncate: a compact box leaves 80 columns room for all seven, the engine folds
    table = Table(title=f"max relative error vs 50-digit ground truth (seed {args.seed})", box=box.SIMPLE_HEAD)
    table.add_column("engine", overflow="fold")
    qs = ["loss", "dW", "dZ", "db", "dX", "grad", "hvp"]
    for q in qs:
        table.add_column(q, justify="right", no_wrap=True, min_width=7)
    for eng, cells in summary["table"].items():
        table.add_row(
            eng, *[(f"{cells[q]['max_rel']:.1e}" + ("" if cells[q]["pass"] else " FAIL")) if q in cells else "-" for q in qs]
        )
    if json_to != "-":
        show(table)
    for f in failures:
        console.print(f"[red]FAIL[/red] {f['case']} {f['net']}: {f['message']}\n  reproduce: {f['reproduce']}")
    console.print(
        f"{len(records)} cases, {n_checks} checks, {len(failures)} failures in {wall:.1f} s; seed {args.seed}; results in {out}"
    )
    for e, why in not_run.items():
        console.print(f"not run: {e} ({why})")
    return 0 if not failures else 1
