"""Bench section 3, the manual HVP: its time in manual gradients, and against torch's best HVP
(double backward, torch.func), timed in interleaved rounds; an engine that cannot run is recorded
as not measured."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import numpy as np

from derivcheck.bench import problems
from derivcheck.bench.config import BenchConfig
from derivcheck.bench.targets import record
from derivcheck.bench.timing import interleaved_times
from derive import SpecError

__all__ = ["bench_hvp"]


def bench_hvp(cfg: BenchConfig, log, seed=0) -> tuple[list, dict]:
    """Section 3 at `cfg.hvp_widths` x `cfg.hvp_batch`. Returns (records, raw timings)."""
    widths, B, D = cfg.hvp_widths, cfg.hvp_batch, cfg.dim
    net, p, X, Y = problems.problem(widths, B, D, seed)
    V = [np.random.default_rng(seed + 1).standard_normal(z.shape) for z in p.Z]
    fns: dict[str, Callable[[], Any]] = {}
    times: dict[str, Any] = {}  # seconds, or None for an engine that cannot run here
    for engine in ("manual", "manual_hvp", "torch_hvp_double_backward", "torch_hvp_func"):
        fn = problems.engine_fn(engine, net, p, X, Y, V)
        try:
            fn()
            fns[engine] = fn
        except (SpecError, RuntimeError) as exc:  # a torch method that cannot run here: record why
            times[engine] = None
            log(f"hvp {engine}: failed ({exc})")
    best, all_ts = interleaved_times(fns, cfg.repeats * 3)  # milliseconds each: more rounds
    times.update(best)
    for engine, t in best.items():
        log(f"hvp {engine}: {t:.4f} s (runs: {', '.join(f'{x:.4f}' for x in all_ts[engine])})")
    torch_best = min((t for k, t in times.items() if k.startswith("torch") and t is not None), default=None)
    manual_ok = times.get("manual") is not None and times.get("manual_hvp") is not None
    cost = times["manual_hvp"] / times["manual"] if manual_ok else None  # a failed engine is recorded, not divided
    where = f"L={len(widths)} widths {widths[1]} D={D} batch {B}"
    recs = [
        record(
            "hvp.cost_in_gradients",
            f"manual HVP time / manual gradient time, {where}",
            cost,
            "gradients",
            "<= 3",
            None if cost is None else cost <= 3,
            hvp_s=times["manual_hvp"],
            gradient_s=times["manual"],
        ),
        record(
            "hvp.vs_torch_best",
            f"manual HVP time / torch's best HVP time, {where}",
            None if torch_best is None or not manual_ok else times["manual_hvp"] / torch_best,
            "x",
            "<= 1",
            None if torch_best is None or not manual_ok else times["manual_hvp"] <= torch_best,
            torch_double_backward_s=times["torch_hvp_double_backward"],
            torch_func_s=times["torch_hvp_func"],
            torch_best_in_gradients=None if torch_best is None or not manual_ok else torch_best / times["manual"],
        ),
    ]
    return recs, {
        "widths": list(widths),
        "batch": B,
        "times_s": times,
        "all_times_s": all_ts,
        "median_times_s": {k: statistics.median(v) for k, v in all_ts.items()},
    }
