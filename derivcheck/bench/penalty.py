"""Bench section "penalty" (the wider model family): the manual gradient of a net with a distance
penalty against the same net without one, timed in interleaved rounds in the same run. Target: the
penalised gradient costs at most 1.15x (widths 2048, the gradient section's size)."""

from __future__ import annotations

import dataclasses

from derivcheck.bench import problems
from derivcheck.bench.config import BenchConfig
from derivcheck.bench.targets import record
from derivcheck.bench.timing import interleaved_times
from derive.primitives.penalty import penalty

__all__ = ["bench_penalty", "PENALTY"]

#: the notebook-style distance penalty (s (r - q0))^2 summed over every edge (presets/notebook_tanh_penalty.toml)
PENALTY = {"rho": "(s*(r-q0))**2", "params": {"s": 6.1, "q0": 0.433}, "scale": 1.0, "reduce": "sum"}


def bench_penalty(cfg: BenchConfig, log, seed=0) -> tuple[list, dict]:
    """Manual gradient with and without the penalty at `cfg.grad_widths` x `cfg.grad_batch`."""
    widths, B, D = cfg.grad_widths, cfg.grad_batch, cfg.dim
    net, p, X, Y = problems.problem(widths, B, D, seed)
    pen = dataclasses.replace(net, penalties=(penalty(PENALTY),))
    fns = {"plain": problems.engine_fn("manual", net, p, X, Y), "penalty": problems.engine_fn("manual", pen, p, X, Y)}
    for fn in fns.values():
        fn()  # compile and warm up both
    best, all_ts = interleaved_times(fns, cfg.repeats)
    for k, t in best.items():
        log(f"penalty {k}: {t:.4f} s (runs: {', '.join(f'{x:.4f}' for x in all_ts[k])})")
    ratio = best["penalty"] / best["plain"]
    where = f"L={len(widths)} widths {widths[1]} D={D} batch {B}"
    recs = [
        record(
            "penalty.gradient_cost",
            f"manual gradient with the distance penalty (s (r - q0))^2 / without, {where}",
            ratio,
            "x",
            "<= 1.15",
            ratio <= 1.15,
            penalty_s=best["penalty"],
            plain_s=best["plain"],
        )
    ]
    return recs, {"times_s": best, "rounds_s": all_ts, "penalty": PENALTY}
