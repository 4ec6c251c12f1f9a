"""Bench section 1, symbolic scale: `derive.symbolic.compile_program(net, 1, hessian=True, backend)`
from scratch (forward program, reverse sweep, full coordinate Hessian, lambdified code) per size and
backend, after warming the primitive templates once per backend (their cost recorded as ``cold``);
the two backends' numeric gradient and Hessian are compared at one point."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from derivcheck.bench.config import BenchConfig
from derivcheck.bench.targets import record
from derive import Net

__all__ = ["bench_symbolic"]


def bench_symbolic(cfg: BenchConfig, log) -> tuple[list, dict]:
    """Section 1 for every size and backend of `cfg`. Returns (records, raw timings and backend differences)."""
    from derive.symbolic import compile_program

    raw: dict[str, Any]
    records, raw = [], {"cold": {}, "runs": []}
    for backend in cfg.symbolic_backends:
        if backend == "symengine":
            try:
                import symengine  # noqa: F401
            except ImportError:
                for widths, limit in cfg.symbolic:
                    records.append(
                        record(
                            f"symbolic.L{len(widths)}w{widths[1]}.symengine",
                            "exact gradient + Hessian + code",
                            None,
                            "s",
                            limit,
                            None,
                            skipped="symengine is not installed (pip install symengine)",
                        )
                    )
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
                log(f"symbolic {backend} {'-'.join(map(str, widths))}: FAILED {err}")
                records.append(
                    record(
                        tid,
                        f"exact gradient + Hessian + code, L={len(widths)} widths {widths[1]} D={cfg.dim}, {backend}",
                        None,
                        "s",
                        limit,
                        False,
                        error=err,
                        widths=list(widths),
                    )
                )
                continue
            dt = time.perf_counter() - t0
            rng = np.random.default_rng(0)
            point = [float(v) for v in rng.uniform(-1, 1, len(cp.inputs))]
            values[tuple(widths)] = (
                np.asarray(cp.gradient["numpy"](*point), dtype=float),
                np.asarray(cp.hessian["numpy"](*point), dtype=float),
            )
            n = net.n_coords
            rec = record(
                tid,
                f"exact gradient + full coordinate Hessian + lambdified code, L={len(widths)} "
                f"widths {widths[1]} D={cfg.dim} ({n} coordinates), {backend}",
                dt,
                "s",
                limit,
                dt <= limit,
                derive_s=cp.timings["derive"],
                codegen_s=cp.timings["codegen"],
                program_nodes=cp.n_nodes,
                hessian_entries=len(cp.hess_entries),
                widths=list(widths),
            )
            records.append(rec)
            raw["runs"].append(rec)
            times = f"derive {cp.timings['derive']:.2f}, codegen {cp.timings['codegen']:.2f}"
            log(f"symbolic {backend} {'-'.join(map(str, widths))}: {dt:.2f} s ({times})")
        raw.setdefault("values", {})[backend] = values
        growth = _growth(raw["runs"], backend)
        if growth is not None:
            records.append(growth)
    records.append(_hessian_balls(cfg, log, raw))
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


#: the issue's goal for the exact side's scale: L = 3, D = 3, widths 64 (576 coordinates) in 120 s
GOAL_COORDS, GOAL_SECONDS = 576, 120.0


def _growth(runs: list, backend: str):
    """The growth exponent k of compile time with coordinates, t ~ n^k, from this backend's L = 3 runs
    (the smallest and largest), and the time it projects at `GOAL_COORDS` coordinates against
    `GOAL_SECONDS` (a projection, labelled so: the size itself is not run), or None with under two sizes."""
    pts = sorted(
        (r["details"]["widths"], r["measured"])
        for r in runs
        if r["id"].endswith(f".{backend}") and len(r["details"]["widths"]) == 3 and r["measured"]
    )
    if len(pts) < 2:
        return None
    (w0, t0), (w1, t1) = pts[0], pts[-1]
    n0, n1 = sum(w0) * 3, sum(w1) * 3
    if n1 == n0 or t0 <= 0:
        return None
    k = float(np.log(t1 / t0) / np.log(n1 / n0))
    projected = t1 * (GOAL_COORDS / n1) ** k
    return record(
        f"symbolic.L3.projected{GOAL_COORDS}.{backend}",
        f"exact gradient + Hessian + code at {GOAL_COORDS} coordinates (L=3, D=3), PROJECTED from the growth "
        f"t ~ coordinates^{k:.2f} between {n0} and {n1} coordinates (not run at that size), {backend}",
        projected,
        "s",
        GOAL_SECONDS,
        projected <= GOAL_SECONDS,
        growth_exponent=k,
        from_coordinates=float(n0),
        to_coordinates=float(n1),
    )


def _hessian_balls(cfg: BenchConfig, log, raw: dict):
    """The exact full Hessian of an L = 3, D = 3 net on Arb balls by layers (the R-operator, one pass per
    column: derive.symbolic.hessian(backend="arb")), the issue's scale goal done by the structure of
    backprop instead of a whole-loss expression (batch 1, the default net, seeded coordinates)."""
    from derive import Params
    from derive import symbolic as sym

    widths, goal = cfg.hessian_balls
    net = Net(tuple(widths), dim=cfg.dim)
    rng = np.random.default_rng(0)
    p = Params(Z=[rng.uniform(-1.5, 1.5, (n, cfg.dim)) for n in widths])
    X, Y = rng.uniform(-2, 2, (1, widths[0])), rng.uniform(-1, 1, (1, widths[-1]))
    t0 = time.perf_counter()
    H = sym.hessian(net, p, X, Y, backend="arb")
    dt = time.perf_counter() - t0
    n = net.n_coords
    asym = float(np.max(np.abs(H - H.T)) / max(np.max(np.abs(H)), 1e-300))
    log(f"symbolic Hessian on balls by layers, widths {'-'.join(map(str, widths))}: {n} coordinates in {dt:.1f} s")
    raw["hessian_balls"] = {"widths": list(widths), "coordinates": n, "seconds": dt, "asymmetry": asym}
    return record(
        f"symbolic.L{len(widths)}w{widths[1]}.hessian_balls",
        f"exact full coordinate Hessian on Arb balls by layers (R-operator per column), L={len(widths)} "
        f"widths {widths[1]} D={cfg.dim} ({n} coordinates)",
        dt,
        "s",
        float(goal),
        dt <= goal,
        coordinates=float(n),
        asymmetry=asym,
    )
