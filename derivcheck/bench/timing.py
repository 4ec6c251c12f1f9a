"""Timing and memory helpers of the bench: median of repeated calls, best of interleaved rounds,
tracemalloc peak, and the fitted scaling exponent."""

from __future__ import annotations

import statistics
import time
import tracemalloc

import numpy as np

__all__ = ["median_time", "interleaved_times", "peak_tracemalloc", "fit_exponent"]


def median_time(fn, repeats: int, warmup: bool = True) -> tuple[float, list[float]]:
    """(median seconds, all times) of `repeats` calls of fn, after one warm-up call if `warmup`."""
    if warmup:
        fn()
    ts = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), ts


def interleaved_times(fns: dict, repeats: int) -> tuple[dict, dict]:
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


def peak_tracemalloc(fn) -> int:
    """Peak bytes allocated (and traced) during fn() above what was traced before it."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def fit_exponent(xs, ys) -> float:
    """Least-squares slope of log y against log x (the scaling exponent)."""
    return float(np.polyfit(np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float)), 1)[0])
