"""Bench section "truth" (issue 25, item 1): the ground truth's gradients on mpmath numbers (the whole-loss
program) against the truth on Arb balls (``derive.symbolic.gradients(backend="arb")``: the same program
on balls for small nets, the layers route, derive.symbolic.layered, above its size limit), at check-grad's
sizes (widths 8,8,4 / 32,32,10 / 64,64,10, D = 2, kernel exp(-r**2/s**2), tanh, mse, batch 3: one truth
call per check-grad case). The derivation of the program is timed apart; each backend's first call
(its code generation) is timed apart from its best run. Recorded per size: the mpmath / arb time ratio
(target >= 1: arb is check-grad's truth only if it is not slower), the arb route and the digits at which
every ball was decided."""

from __future__ import annotations

import time

from derivcheck.bench import problems
from derivcheck.bench.config import BenchConfig
from derivcheck.bench.targets import record

__all__ = ["bench_truth"]


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_truth(cfg: BenchConfig, log, seed=0) -> tuple[list, dict]:
    """mpmath vs arb truth gradients at each of `cfg.truth_widths` (D = `cfg.truth_dim`, B = `cfg.truth_batch`)."""
    import derive.symbolic as sym
    from derive.symbolic.compiled_program import cached_mpmath_program

    recs, raw = [], {}
    repeats = max(1, min(cfg.repeats, 3))
    for widths in cfg.truth_widths:
        net, p, X, Y = problems.problem(widths, cfg.truth_batch, cfg.truth_dim, seed)
        t0 = time.perf_counter()
        cp = cached_mpmath_program(net, cfg.truth_batch, False, None)
        derive_s = time.perf_counter() - t0
        first, best, dps, route = {}, {}, None, None
        for backend in ("mpmath", "arb"):
            t0 = time.perf_counter()
            g = sym.gradients(net, p, X, Y, backend=backend)  # the first call generates its code
            first[backend] = time.perf_counter() - t0
            if backend == "arb":
                dps, route = g.extra["dps"], g.extra["route"]
            best[backend] = _best(lambda b=backend: sym.gradients(net, p, X, Y, backend=b), repeats)
        ratio = best["mpmath"] / best["arb"]
        key = ",".join(map(str, widths))
        log(
            f"truth {key}: derive {derive_s:.2f} s, mpmath {best['mpmath']:.3f} s, arb {best['arb']:.3f} s "
            f"(x{ratio:.2f}; first calls {first['mpmath']:.2f} / {first['arb']:.2f} s), arb by {route}, decided at {dps} digits"
        )
        raw[key] = {
            "derive_s": derive_s,
            "best_s": best,
            "first_call_s": first,
            "ratio_mpmath_over_arb": ratio,
            "arb_dps": dps,
            "arb_route": route,
            "program_nodes": cp.n_nodes,
        }
        recs.append(
            record(
                f"truth.arb_vs_mpmath.w{'-'.join(map(str, widths))}",
                f"truth gradients, mpmath time / arb time, widths {key}, D={cfg.truth_dim}, batch {cfg.truth_batch}, "
                f"gaussian kernel exp(-r**2/s**2)",
                ratio,
                "x",
                ">= 1",
                ratio >= 1,
                mpmath_s=best["mpmath"],
                arb_s=best["arb"],
                derive_s=derive_s,
                arb_dps=dps,
                arb_route=route,
            )
        )
    return recs, raw
