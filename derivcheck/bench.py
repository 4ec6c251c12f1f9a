"""`make bench`: the performance targets of issue 7, measured in one run and written to JSON.

Every target becomes one record ``{"id", "what", "measured", "unit", "target", "pass", "details"}``
in ``results["targets"]`` (``pass`` is None when the target was skipped or not measured here), so a
reader sees the measured value beside the target. Ratios are always between timings of the *same*
run. Nothing here is a unit test; `tests/test_bench.py` only checks the structure on a tiny run.

Methods (what the numbers mean):

* Times are wall-clock medians over ``repeats`` calls after one warm-up call (which also compiles the
  net's primitives; compile_net caches them per net, so steady state is what is timed), except in
  the gradient and HVP sections, where contenders are timed in interleaved rounds and each one's best
  round is used (its median is recorded too): on a shared 2-core VM single calls vary by 2x.
* Symbolic: ``derive.symbolic.compile_program(net, 1, hessian=True, backend)`` from scratch: the
  forward program, its reverse sweep, the full coordinate Hessian (upper triangle) and lambdified
  code for both. The primitive templates (kernel/activation/loss derivatives, cached per kernel) are
  warmed once per backend on a 2-layer net first; their one-off cost is recorded as ``cold``.
* Matmul floor: the same run's time for only the matrix products the manual gradient performs, on
  arrays of the same shapes: per layer a@W^T, delta^T@a, delta@W, G@[Z_(l-1), 1], G^T@[Z_l, 1]. The
  gradient section times the engines, the floor and the bare kernel evaluations (one fused pass per
  layer) in interleaved rounds, so all of them see the same machine.
* Memory, NumPy: ``tracemalloc`` peak above the traced size before the call (NumPy reports its
  array buffers to tracemalloc). Memory, every engine (NumPy and torch alike, for a fair ratio): a
  fresh subprocess builds the inputs, warms up on a tiny net, resets the kernel's high-water mark of
  resident memory (``/proc/self/clear_refs``) and reads it (``VmHWM``) after one gradient call; the
  rise above the resident size before the call is that call's peak extra memory (torch's CPU
  allocator exposes no peak statistic; Linux only, else recorded as None).
* Budget for the manual gradient's extra memory: the forward cache it keeps (a, h and W of every
  layer; R is never stored and a Gaussian's phi(R) = c W is formed in place) plus one N_l x N_(l-1)
  array per layer.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from derive import Net, Params, SpecError

from .provenance import atomic_write_bytes, atomic_write_json, provenance

__all__ = ["BenchConfig", "FULL", "QUICK", "run", "main", "add_arguments", "fit_exponent"]


@dataclass(frozen=True)
class BenchConfig:
    """Sizes and repeats of one bench run (FULL is the issue's configuration, QUICK a smoke run)."""

    symbolic: tuple = (((4, 4, 4), 1.0), ((8, 8, 8, 8), 8.0), ((16, 16, 16), 45.0))
    symbolic_backends: tuple = ("sympy", "symengine")
    grad_widths: tuple = (2048, 2048, 2048, 2048)
    grad_batch: int = 256
    hvp_widths: tuple = (512, 512, 512)
    hvp_batch: int = 64
    scaling_widths: tuple = (128, 256, 512, 1024, 2048, 4096)
    scaling_layers: int = 3
    scaling_batch: int = 64
    dim: int = 3
    repeats: int = 7
    rss: bool = True  # subprocess peak-RSS measurements (seconds each: a fresh interpreter)
    suite: bool = False  # time `make test`'s pytest command and `derivcheck verify --quick` (minutes)
    quick: bool = False
    extra: dict = field(default_factory=dict)


FULL = BenchConfig(suite=True)
QUICK = BenchConfig(symbolic=(((2, 2, 2), 1.0), ((3, 3, 3), 8.0), ((3, 3, 3), 45.0)),
                    grad_widths=(64, 64, 64, 64), grad_batch=16, hvp_widths=(32, 32, 32), hvp_batch=8,
                    scaling_widths=(16, 32, 64),
                    scaling_batch=8, repeats=1, rss=False, quick=True)


# -- helpers --------------------------------------------------------------------------------------------
def _median_time(fn, repeats: int, warmup: bool = True) -> tuple[float, list[float]]:
    if warmup:
        fn()
    ts = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), ts


def _interleaved_times(fns: dict, repeats: int) -> tuple[dict, dict]:
    """Best time of each callable over interleaved rounds (one call of each per round, after one
    warm-up call each). Interleaving makes a slow spell of a shared machine hit every contender
    alike; the best of the rounds is the least-disturbed run of each (as `timeit` advises: higher
    values come from interference, not from the code). Returns (best, all times); the medians are
    recorded beside the best in the JSON."""
    for fn in fns.values():
        fn()
    ts: dict = {k: [] for k in fns}
    for _ in range(max(1, repeats)):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            ts[k].append(time.perf_counter() - t0)
    return {k: min(v) for k, v in ts.items()}, ts


def _peak_tracemalloc(fn) -> int:
    """Peak bytes allocated (and traced) during fn() above what was traced before it."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def _problem(widths, batch, dim, seed):
    """A spatial Net (gaussian kernel, tanh, mse) with coordinates spread so weights are O(1)."""
    rng = np.random.default_rng(seed)
    net = Net(tuple(widths), dim=dim)
    Z = [rng.uniform(-1, 1, (n, dim)) for n in widths]
    X = rng.standard_normal((batch, widths[0]))
    Y = rng.standard_normal((batch, widths[-1]))
    return net, Params(Z=Z), X, Y


def _record(tid, what, measured, unit, target, ok, **details):
    return {"id": tid, "what": what, "measured": measured, "unit": unit, "target": target,
            "pass": None if ok is None else bool(ok), "details": details}


def fit_exponent(xs, ys) -> float:
    """Least-squares slope of log y against log x (the scaling exponent)."""
    return float(np.polyfit(np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float)), 1)[0])


# -- 1. symbolic scale ----------------------------------------------------------------------------------
def bench_symbolic(cfg: BenchConfig, log) -> tuple[list, dict]:
    from derive.symbolic import compile_program

    raw: dict[str, Any]
    records, raw = [], {"cold": {}, "runs": []}
    for backend in cfg.symbolic_backends:
        if backend == "symengine":
            try:
                import symengine  # noqa: F401
            except ImportError:
                for widths, limit in cfg.symbolic:
                    records.append(_record(
                        f"symbolic.L{len(widths)}w{widths[1]}.symengine", "exact gradient + Hessian + code",
                        None, "s", limit, None, skipped="symengine is not installed (derivcheck[fast])"))
                continue
        t0 = time.perf_counter()
        try:
            compile_program(Net((2, 2, 2), dim=cfg.dim), 1, hessian=True, backend=backend)
        except Exception as exc:  # noqa: BLE001  an engine failure is a measured outcome, not a crash
            log(f"symbolic {backend} warm-up failed: {type(exc).__name__}: {exc}")
        raw["cold"][backend] = time.perf_counter() - t0
        values = {}
        for widths, limit in cfg.symbolic:
            net = Net(tuple(widths), dim=cfg.dim)
            tid = f"symbolic.L{len(widths)}w{widths[1]}.{backend}"
            t0 = time.perf_counter()
            try:
                cp = compile_program(net, 1, hessian=True, backend=backend)
            except Exception as exc:  # noqa: BLE001
                err = f"{type(exc).__name__}: {exc}"
                log(f"symbolic {backend} {widths}: FAILED {err}")
                records.append(_record(tid, f"exact gradient + Hessian + code, L={len(widths)} widths "
                                       f"{widths[1]} D={cfg.dim}, {backend}", None, "s", limit, False,
                                       error=err, widths=list(widths)))
                continue
            dt = time.perf_counter() - t0
            rng = np.random.default_rng(0)
            point = [float(v) for v in rng.uniform(-1, 1, len(cp.inputs))]
            values[tuple(widths)] = (np.asarray(cp.gradient["numpy"](*point), dtype=float),
                                     np.asarray(cp.hessian["numpy"](*point), dtype=float))
            n = net.n_coords
            rec = _record(tid,
                          f"exact gradient + full coordinate Hessian + lambdified code, L={len(widths)} "
                          f"widths {widths[1]} D={cfg.dim} ({n} coordinates), {backend}",
                          dt, "s", limit, dt <= limit, derive_s=cp.timings["derive"],
                          codegen_s=cp.timings["codegen"], program_nodes=cp.n_nodes,
                          hessian_entries=len(cp.hess_entries), widths=list(widths))
            records.append(rec)
            raw["runs"].append(rec)
            log(f"symbolic {backend} {widths}: {dt:.2f} s (derive {cp.timings['derive']:.2f}, "
                f"codegen {cp.timings['codegen']:.2f})")
        raw.setdefault("values", {})[backend] = values
    # identical results: the two backends' numeric gradient and Hessian at the same point
    vals = raw.pop("values", {})
    if len(vals) == 2:
        a, b = vals.values()
        diffs = {}
        for k in set(a) & set(b):
            scale = max(1.0, float(np.max(np.abs(a[k][1]))))
            diff = max(float(np.max(np.abs(a[k][0] - b[k][0]))), float(np.max(np.abs(a[k][1] - b[k][1]))))
            diffs[str(k)] = diff / scale
        raw["sympy_vs_symengine_max_rel_diff"] = diffs
    return records, raw


# -- 2. manual gradient at width 2048 -------------------------------------------------------------------
def matmul_products(widths, batch, dim, seed=0):
    """A callable doing just the matrix products the manual gradient needs, on arrays of its shapes:
    per layer a_(l-1) W_l^T (forward), delta_l^T a_(l-1) (dW), delta_l W_l (dL/da_(l-1)),
    G [Z_(l-1), 1] and G^T [Z_l, 1] (dZ, with the row sums folded in as the engine does). Timed
    beside the engines, it is the gradient section's matmul floor."""
    rng = np.random.default_rng(seed)
    L = len(widths)
    a = [rng.standard_normal((batch, n)) for n in widths]
    d = [rng.standard_normal((batch, n)) for n in widths]
    Z1 = [np.hstack([rng.standard_normal((n, dim)), np.ones((n, 1))]) for n in widths]  # [Z, 1]
    W = [None] + [rng.standard_normal((widths[l], widths[l - 1])) for l in range(1, L)]

    def products():
        for l in range(1, L):
            a[l - 1] @ W[l].T
        for l in range(L - 1, 0, -1):
            G = d[l].T @ a[l - 1]  # G has dW's shape and cost
            d[l] @ W[l]
            G @ Z1[l - 1]
            G.T @ Z1[l]

    return products


def kernel_evaluations(net, p):
    """A callable doing just the N_l x N_(l-1) kernel evaluations W = g(R) of every layer, each in
    its fastest form here (one exact distance pass and one fused multithreaded pass, derive.fused): the
    elementwise work no formulation of the gradient can skip. Not part of the issue's floor;
    recorded beside it so the remaining gap is measured, not guessed."""
    from derive import compile_net

    fk = compile_net(net, "numpy").fused
    bufs = [np.empty((p.Z[l].shape[0], p.Z[l - 1].shape[0])) for l in range(1, net.L)]

    def evaluations():
        for l in range(1, net.L):
            fk.weights(p.Z[l], p.Z[l - 1], bufs[l - 1])

    return evaluations


def _exp_ns_per_element(n=1 << 22, repeats=5) -> dict:
    """float64 exp cost per element: NumPy (one thread; SIMD exp only with AVX-512) and numexpr (all
    threads, libm): the price of the Gaussian's N^2 exponentials on this machine."""
    import numexpr

    x = -np.random.default_rng(0).random(n)
    out = np.empty_like(x)
    t_np = _median_time(lambda: np.exp(x, out=out), repeats)[0]
    t_ne = _median_time(lambda: numexpr.evaluate("exp(x)", local_dict={"x": x}, out=out), repeats)[0]
    return {"numpy": 1e9 * t_np / n, "numexpr": 1e9 * t_ne / n, "numexpr_threads": numexpr.get_num_threads()}


def _cache_bytes(widths, batch) -> tuple[int, int]:
    """(the gradient's forward cache in bytes: a and h of every layer and W of every layer, the lean
    cache `numeric.manual.gradients` keeps for a Gaussian, whose phi(R) = c W is never stored;
    one N_l x N_(l-1) float64 array per layer)."""
    acts = sum(batch * n for n in widths) + sum(batch * n for n in widths[1:])
    mats = sum(widths[l] * widths[l - 1] for l in range(1, len(widths)))
    return 8 * (acts + mats), 8 * mats


# Peak RSS of this process's own address space: VmHWM (ru_maxrss would not do: on Linux it carries
# the parent's high-water mark across fork+exec). Writing 5 to clear_refs resets VmHWM to VmRSS.
_CHILD = """
import json, sys
from derivcheck.bench import _problem, _engine_fn
def status(key):
    with open("/proc/self/status") as fh:
        return 1024 * int(next(l for l in fh if l.startswith(key + ":")).split()[1])
spec = json.loads(sys.argv[1])
tiny = _problem([4] * len(spec["widths"]), 2, spec["dim"], 1)
net, p, X, Y = _problem(spec["widths"], spec["batch"], spec["dim"], spec["seed"])
_engine_fn(spec["engine"], *tiny)()
fn = _engine_fn(spec["engine"], net, p, X, Y)
try:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    before = status("VmRSS")
except OSError:
    before = status("VmHWM")
fn()
print(json.dumps({"extra_bytes": status("VmHWM") - before}))
"""


def _engine_fn(engine, net, p, X, Y, V=None):
    """A zero-argument callable running one engine (gradient or HVP) on one problem."""
    import numeric.manual as manual

    if engine == "manual":
        return lambda: manual.gradients(net, p, X, Y)
    if engine == "manual_hvp":
        return lambda: manual.hvp(net, p, X, Y, V)
    import numeric.autograd as ag

    if engine.startswith("torch_hvp_"):
        return lambda: ag.hvp(net, p, X, Y, V, device=_DEVICE[0], method=engine[len("torch_hvp_"):])
    formulation = engine[len("torch_"):]
    return lambda: ag.gradients(net, p, X, Y, device=_DEVICE[0], formulation=formulation)


_DEVICE = ["cpu"]


def _rss_extra(engine, widths, batch, dim, seed) -> int | None:
    spec = json.dumps({"engine": engine, "widths": list(widths), "batch": batch, "dim": dim, "seed": seed})
    out = subprocess.run([sys.executable, "-c", _CHILD, spec], capture_output=True, text=True, timeout=600,
                         cwd=Path(__file__).resolve().parent.parent)
    if out.returncode != 0:
        return None
    return int(json.loads(out.stdout.strip().splitlines()[-1])["extra_bytes"])


def bench_gradient(cfg: BenchConfig, log, seed=0) -> tuple[list, dict]:
    widths, B, D = cfg.grad_widths, cfg.grad_batch, cfg.dim
    net, p, X, Y = _problem(widths, B, D, seed)
    fns = {e: _engine_fn(e, net, p, X, Y) for e in ("manual", "torch_cdist", "torch_pairwise")}
    fns["floor"] = matmul_products(widths, B, D, seed)
    fns["kernel"] = kernel_evaluations(net, p)
    times, all_ts = _interleaved_times(fns, cfg.repeats)
    for k, t in times.items():
        log(f"gradient {k}: {t:.3f} s  {[round(x, 3) for x in all_ts[k]]}")
    floor, kern = times.pop("floor"), times.pop("kernel")
    exp_ns = _exp_ns_per_element()
    log(f"float64 exp per element: {exp_ns}")
    man = _engine_fn("manual", net, p, X, Y)
    tm = _peak_tracemalloc(man)
    cache, per_layer = _cache_bytes(widths, B)
    budget = cache + per_layer
    rss = {e: (_rss_extra(e, widths, B, D, seed) if cfg.rss else None)
           for e in ("manual", "torch_cdist", "torch_pairwise")}
    mb = 1 / 2**20
    where = f"L={len(widths)} widths {widths[1]} D={D} batch {B} float64"
    r_cdist = times["torch_cdist"] / times["manual"]
    r_pair = times["torch_pairwise"] / times["manual"]
    r_floor = times["manual"] / floor
    recs = [
        _record("gradient.vs_cdist", f"torch(cdist) time / manual time, {where}", r_cdist, "x", ">= 2",
                r_cdist >= 2, manual_s=times["manual"], torch_cdist_s=times["torch_cdist"]),
        _record("gradient.vs_pairwise", f"torch(naive pairwise) time / manual time, {where}", r_pair, "x",
                ">= 4", r_pair >= 4, manual_s=times["manual"], torch_pairwise_s=times["torch_pairwise"]),
        _record("gradient.vs_floor", f"manual time / matmul floor, {where}", r_floor, "x", "<= 1.3",
                r_floor <= 1.3, manual_s=times["manual"], floor_s=floor, kernel_eval_s=kern,
                vs_floor_plus_kernel=times["manual"] / (floor + kern),
                exp_ns_numpy=exp_ns["numpy"], exp_ns_numexpr=exp_ns["numexpr"]),
        _record("gradient.memory", f"manual peak extra memory (tracemalloc) vs forward cache + one N x N "
                f"per layer, {where}", tm * mb, "MiB", budget * mb, tm <= budget,
                forward_cache_mib=cache * mb, one_nxn_per_layer_mib=per_layer * mb,
                rss_extra_mib={k: (None if v is None else v * mb) for k, v in rss.items()}),
    ]
    raw = {"widths": list(widths), "batch": B, "times_s": times, "floor_s": floor, "kernel_eval_s": kern,
           "all_times_s": all_ts, "median_times_s": {k: statistics.median(v) for k, v in all_ts.items()},
           "exp_ns_per_element": exp_ns, "tracemalloc_bytes": tm,
           "rss_extra_bytes": rss, "budget_bytes": budget}
    return recs, raw


# -- 3. manual HVP --------------------------------------------------------------------------------------
def bench_hvp(cfg: BenchConfig, log, seed=0) -> tuple[list, dict]:
    widths, B, D = cfg.hvp_widths, cfg.hvp_batch, cfg.dim
    net, p, X, Y = _problem(widths, B, D, seed)
    V = [np.random.default_rng(seed + 1).standard_normal(z.shape) for z in p.Z]
    fns: dict[str, Callable[[], Any]] = {}
    times: dict[str, Any] = {}  # seconds, or None for an engine that cannot run here
    for engine in ("manual", "manual_hvp", "torch_hvp_double_backward", "torch_hvp_func"):
        fn = _engine_fn(engine, net, p, X, Y, V)
        try:
            fn()
            fns[engine] = fn
        except (SpecError, RuntimeError) as exc:  # a torch method that cannot run here: record why
            times[engine] = None
            log(f"hvp {engine}: failed ({exc})")
    best, all_ts = _interleaved_times(fns, cfg.repeats * 3)  # milliseconds each: more rounds
    times.update(best)
    for engine, t in best.items():
        log(f"hvp {engine}: {t:.4f} s  {[round(x, 4) for x in all_ts[engine]]}")
    torch_best = min((t for k, t in times.items() if k.startswith("torch") and t is not None), default=None)
    manual_ok = times.get("manual") is not None and times.get("manual_hvp") is not None
    cost = times["manual_hvp"] / times["manual"] if manual_ok else None  # a failed engine is recorded, not divided
    where = f"L={len(widths)} widths {widths[1]} D={D} batch {B}"
    recs = [
        _record("hvp.cost_in_gradients", f"manual HVP time / manual gradient time, {where}", cost,
                "gradients", "<= 3", None if cost is None else cost <= 3, hvp_s=times["manual_hvp"],
                gradient_s=times["manual"]),
        _record("hvp.vs_torch_best", f"manual HVP time / torch's best HVP time, {where}",
                None if torch_best is None or not manual_ok else times["manual_hvp"] / torch_best, "x", "<= 1",
                None if torch_best is None or not manual_ok else times["manual_hvp"] <= torch_best,
                torch_double_backward_s=times["torch_hvp_double_backward"],
                torch_func_s=times["torch_hvp_func"],
                torch_best_in_gradients=None if torch_best is None or not manual_ok else torch_best / times["manual"]),
    ]
    return recs, {"widths": list(widths), "batch": B, "times_s": times, "all_times_s": all_ts,
                  "median_times_s": {k: statistics.median(v) for k, v in all_ts.items()}}


# -- 4. scaling curves ----------------------------------------------------------------------------------
def bench_scaling(cfg: BenchConfig, log, out_png: Path | None, seed=0) -> tuple[list, dict]:
    rows = []
    for w in cfg.scaling_widths:
        widths = (w,) * cfg.scaling_layers
        net, p, X, Y = _problem(widths, cfg.scaling_batch, cfg.dim, seed)
        V = [np.random.default_rng(seed + 1).standard_normal(z.shape) for z in p.Z]
        g, h = _engine_fn("manual", net, p, X, Y), _engine_fn("manual_hvp", net, p, X, Y, V)
        reps = cfg.repeats if w <= 1024 else 1
        tg, th = _median_time(g, reps)[0], _median_time(h, reps)[0]
        mg, mh = _peak_tracemalloc(g), _peak_tracemalloc(h)
        rows.append({"width": w, "grad_s": tg, "hvp_s": th, "grad_bytes": mg, "hvp_bytes": mh})
        log(f"scaling width {w}: grad {tg:.4f} s {mg / 2**20:.1f} MiB, hvp {th:.4f} s {mh / 2**20:.1f} MiB")
    ws = [r["width"] for r in rows]
    # the asymptotic regime: the upper half of the widths (small widths are overhead-bound)
    upper = [r for r in rows if r["width"] >= ws[len(ws) // 2]]
    fits = {key: fit_exponent([r["width"] for r in upper], [r[key] for r in upper])
            for key in ("grad_s", "hvp_s", "grad_bytes", "hvp_bytes")}
    fits_all = {key: fit_exponent(ws, [r[key] for r in rows]) for key in fits}
    recs = [_record(f"scaling.{key}", f"fitted exponent of manual {key.split('_')[0]} "
                    f"{'time' if key.endswith('_s') else 'memory'} in width (widths {upper[0]['width']}.."
                    f"{upper[-1]['width']}, L={cfg.scaling_layers}, batch {cfg.scaling_batch})",
                    v, "exponent", "~2 (1.7..2.3)", 1.7 <= v <= 2.3, fit_over_all_widths=fits_all[key])
            for key, v in fits.items()]
    if out_png is not None:
        plot_scaling(rows, fits, out_png)
    return recs, {"rows": rows, "exponents": fits, "exponents_all_widths": fits_all,
                  "plot": None if out_png is None else str(out_png)}


def plot_scaling(rows, fits, path: Path) -> None:
    """Log-log time and memory of the manual gradient and HVP against width, with fitted slopes,
    written atomically (format from the suffix: .png for the bench, .pdf for the report)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ws = [r["width"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.8))
    for key, label in (("grad_s", "gradient"), ("hvp_s", "HVP")):
        ax1.loglog(ws, [r[key] for r in rows], "o-", label=f"{label} (slope {fits[key]:.2f})")
    for key, label in (("grad_bytes", "gradient"), ("hvp_bytes", "HVP")):
        ax2.loglog(ws, [r[key] / 2**20 for r in rows], "o-", label=f"{label} (slope {fits[key]:.2f})")
    ax1.set(xlabel="width N", ylabel="time [s]", title="manual engine: time")
    ax2.set(xlabel="width N", ylabel="peak extra memory [MiB]", title="manual engine: memory")
    from matplotlib.ticker import NullFormatter

    for ax in (ax1, ax2):
        ax.set_xticks(ws, [str(w) for w in ws])  # the measured widths, not crowded minor labels
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend()
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".") or "png", dpi=120)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


# -- 6. suite time ---------------------------------------------------------------------------------------
SUITE_COMMANDS = {
    # exactly what `make test` runs (Makefile), with the `ci` hypothesis profile
    "suite.make_test": ([sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider",
                         "--hypothesis-profile=ci"], 600.0, "`make test` (pytest -n 2, hypothesis profile ci)"),
    "suite.verify_quick": ([sys.executable, "-m", "derivcheck.cli", "verify", "--quick", "--out", "{tmp}/results.json"],
                           60.0, "`derivcheck verify --quick`"),
}


def bench_suite(cfg: BenchConfig, log) -> tuple[list, dict]:
    """Wall time of the test suite and of the quick verification, each in a fresh subprocess from the
    repository root (what a developer waits for on every change)."""
    import tempfile

    recs, raw = [], {}
    root = Path(__file__).resolve().parent.parent
    for tid, (cmd, limit, what) in SUITE_COMMANDS.items():
        if not cfg.suite:
            recs.append(_record(tid, f"wall time of {what}", None, "s", limit, None,
                                skipped="not run in quick/tiny configurations (the suite runs the bench's tests)"))
            continue
        with tempfile.TemporaryDirectory() as tmp:
            argv = [a.replace("{tmp}", tmp) for a in cmd]
            env = {**os.environ, "HYPOTHESIS_PROFILE": "ci"}
            t0 = time.perf_counter()
            out = subprocess.run(argv, cwd=root, capture_output=True, text=True, env=env, timeout=3 * limit)
            wall = time.perf_counter() - t0
        lines = [ln for ln in out.stdout.splitlines() if ln.strip()]
        # pytest ends with "N passed in T s"; verify's summary line is the one naming its checks
        tail = next((ln for ln in reversed(lines) if " passed" in ln or " checks" in ln), lines[-1] if lines else "")
        log(f"{tid}: {wall:.1f} s, exit {out.returncode}: {tail}")
        ok = wall <= limit and out.returncode == 0
        recs.append(_record(tid, f"wall time of {what}", wall, "s", limit, ok, exit_code=out.returncode,
                            summary=tail, command=" ".join(argv[1:])))
        raw[tid] = {"wall_s": wall, "exit_code": out.returncode, "summary": tail}
    return recs, raw


# -- 5. CUDA --------------------------------------------------------------------------------------------
def bench_cuda(cfg: BenchConfig, log, requested: bool, seed=0) -> tuple[list, dict]:
    import torch

    what = "torch gradient and HVP throughput on CUDA"
    if not requested:
        return [_record("cuda.throughput", what, None, "samples/s", "recorded with --device cuda", None,
                        skipped="not requested (run with --device cuda)")], {"skipped": "not requested"}
    if not torch.cuda.is_available():
        msg = "CUDA requested but torch.cuda is not available here: CUDA throughput skipped"
        log(msg)
        return [_record("cuda.throughput", what, None, "samples/s", "recorded with --device cuda", None,
                        skipped=msg)], {"skipped": msg}
    _DEVICE[0] = "cuda"
    try:
        out = {}
        sizes = (("gradient", cfg.grad_widths, cfg.grad_batch), ("hvp", cfg.hvp_widths, cfg.hvp_batch))
        for name, widths, B in sizes:
            net, p, X, Y = _problem(widths, B, cfg.dim, seed)
            V = [np.random.default_rng(seed + 1).standard_normal(z.shape) for z in p.Z]
            engine = "torch_dims" if name == "gradient" else "torch_hvp_double_backward"
            fn = _engine_fn(engine, net, p, X, Y, V)

            def synced(fn=fn):
                fn()
                torch.cuda.synchronize()

            t = _median_time(synced, cfg.repeats)[0]
            out[name] = {"widths": list(widths), "batch": B, "seconds": t, "samples_per_s": B / t}
            log(f"cuda {name}: {t:.4f} s, {B / t:.0f} samples/s")
    finally:
        _DEVICE[0] = "cpu"
    return [_record("cuda.throughput", what, out["gradient"]["samples_per_s"], "samples/s",
                    "recorded with --device cuda", True, hvp_samples_per_s=out["hvp"]["samples_per_s"],
                    device=torch.cuda.get_device_name(0), runs=out)], out


# -- driver ---------------------------------------------------------------------------------------------
def _threads() -> dict:
    import torch

    return {"torch_threads": torch.get_num_threads(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}


def run(out: str | os.PathLike | None = "bench/results.json", quick: bool = False, device: str = "cpu",
        seed: int = 0, config: BenchConfig | None = None, argv: list[str] | None = None,
        console=None, sections=("symbolic", "gradient", "hvp", "scaling", "cuda", "suite")) -> dict:
    """Run the bench and write its JSON atomically.

    Args:
        out: results path (its folder also receives scaling.png); None writes nothing.
        quick: use `QUICK` sizes (a smoke run; its pass/fail says nothing about the targets).
        device: "cpu", or "cuda" to also record torch throughput on CUDA (skipped with a message
            when CUDA is absent). seed: seed of every random problem.
        config: explicit sizes (overrides `quick`). sections: which parts to run.

    Returns:
        The results dict: {"provenance", "config", "targets": [records...], "sections": {...}}.
    """
    if device not in ("cpu", "cuda"):
        raise SpecError(f"unknown device {device!r}", "use --device cpu or --device cuda")
    cfg = config or (QUICK if quick else FULL)
    log = (console.print if console is not None else (lambda *a, **k: None))
    outp = None if out is None else Path(out)
    results: dict = {"provenance": provenance(seed, argv if argv is not None else sys.argv[1:]),
                     "config": {**asdict(cfg), "device": device, **_threads()}, "targets": [], "sections": {}}
    prov = results["provenance"]
    prov["command"] = prov["command"].replace("derivcheck", "python -m derivcheck.bench", 1)
    steps = {
        "symbolic": lambda: bench_symbolic(cfg, log),
        "gradient": lambda: bench_gradient(cfg, log, seed),
        "hvp": lambda: bench_hvp(cfg, log, seed),
        "scaling": lambda: bench_scaling(cfg, log, None if outp is None else outp.with_name("scaling.png"),
                                         seed),
        "cuda": lambda: bench_cuda(cfg, log, device == "cuda", seed),
        "suite": lambda: bench_suite(cfg, log),
    }
    t_start = time.perf_counter()
    for name in sections:
        t0 = time.perf_counter()
        recs, raw = steps[name]()
        raw["wall_s"] = time.perf_counter() - t0
        results["targets"].extend(recs)
        results["sections"][name] = raw
        if outp is not None:  # partial results survive an interrupted run
            atomic_write_json(outp, results)
    results["wall_s"] = time.perf_counter() - t_start
    if outp is not None:
        atomic_write_json(outp, results)
    return results


def table(results: dict):
    """A rich Table of the targets: id, measured, target, pass."""
    from rich.table import Table

    t = Table(title=f"derivcheck bench ({'quick' if results['config']['quick'] else 'full'}, "
                    f"{results['wall_s']:.0f} s)")
    for col in ("target", "measured", "goal", "pass", "note"):
        t.add_column(col, overflow="fold")
    for r in results["targets"]:
        m, d = r["measured"], r["details"]
        ms = "-" if m is None else (f"{m:.3g} {r['unit']}" if isinstance(m, float) else f"{m} {r['unit']}")
        ok = {True: "[green]pass", False: "[red]FAIL", None: "[yellow]skipped"}[r["pass"]]
        note = d.get("error") or d.get("skipped") or ", ".join(
            f"{k} {v:.3g}" for k, v in d.items() if isinstance(v, float))
        t.add_row(r["id"], ms, str(r["target"]), ok, note)
    return t


SECTIONS = ("symbolic", "gradient", "hvp", "scaling", "cuda", "suite")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="bench/results.json", help="results JSON (scaling.png goes beside it)")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run, not a measurement")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                   help="cuda: also record torch gradient/HVP throughput on CUDA (skipped without CUDA)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", nargs="+", choices=SECTIONS,
                   help="run only these sections")


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    parser = argparse.ArgumentParser(prog="python -m derivcheck.bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    console = Console()
    try:
        res = run(args.out, args.quick, args.device, args.seed, argv=sys.argv[1:] if argv is None else argv,
                  console=console, sections=tuple(args.only or SECTIONS))
    except SpecError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    console.print(table(res))
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
