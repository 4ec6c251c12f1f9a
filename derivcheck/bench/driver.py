"""The bench driver: run the sections in order and write the results JSON atomically after each
(partial results survive an interrupted run)."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

from derivcheck.bench.checkgrad import bench_checkgrad
from derivcheck.bench.config import FULL, QUICK, SECTIONS, BenchConfig
from derivcheck.bench.cuda import bench_cuda
from derivcheck.bench.gradient import bench_gradient
from derivcheck.bench.hvp import bench_hvp
from derivcheck.bench.penalty import bench_penalty
from derivcheck.bench.scaling import bench_scaling
from derivcheck.bench.suite import bench_suite
from derivcheck.bench.symbolic import bench_symbolic
from derivcheck.bench.truth import bench_truth
from derivcheck.provenance import atomic_write_json, provenance
from derive import SpecError

__all__ = ["run"]


def _threads() -> dict:
    import torch

    return {"torch_threads": torch.get_num_threads(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}


def run(
    out: str | os.PathLike | None = "bench/results.json",
    quick: bool = False,
    device: str = "cpu",
    seed: int = 0,
    config: BenchConfig | None = None,
    argv: list[str] | None = None,
    console=None,
    sections=SECTIONS,
) -> dict:
    """Run the bench and write its JSON atomically.

    Args:
        out: results path (its folder also receives scaling.png); None writes nothing.
        quick: use `QUICK` sizes (a smoke run; its pass/fail says nothing about the targets).
        device: "cpu", or "cuda" to also run the CUDA section (gradient and H v against the GPU floor;
            skipped with a message when CUDA is absent). seed: seed of every random problem.
        config: explicit sizes (overrides `quick`). sections: which parts to run.
        argv: the bench's own arguments, recorded as the command ``derivcheck bench ARGV`` (default:
            this process's arguments, a leading ``bench`` verb dropped).

    Returns:
        The results dict: {"provenance", "config", "targets": [records...], "sections": {...}}.
    """
    if device not in ("cpu", "cuda"):
        raise SpecError(f"unknown device {device!r}", "use --device cpu or --device cuda")
    cfg = config or (QUICK if quick else FULL)
    log = console.print if console is not None else (lambda *a, **k: None)
    outp = None if out is None else Path(out)
    if argv is None:
        argv = sys.argv[2:] if sys.argv[1:2] == ["bench"] else sys.argv[1:]
    results: dict = {
        "provenance": provenance(seed, ["bench", *argv]),
        "config": {**asdict(cfg), "device": device, **_threads()},
        "targets": [],
        "sections": {},
    }
    steps = {
        "symbolic": lambda: bench_symbolic(cfg, log),
        "gradient": lambda: bench_gradient(cfg, log, seed),
        "hvp": lambda: bench_hvp(cfg, log, seed),
        "penalty": lambda: bench_penalty(cfg, log, seed),
        "truth": lambda: bench_truth(cfg, log, seed),
        "checkgrad": lambda: bench_checkgrad(cfg, log),
        "scaling": lambda: bench_scaling(cfg, log, None if outp is None else outp.with_name("scaling.png"), seed),
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
