"""Bench section 5, CUDA: torch gradient and HVP throughput (samples/s) when asked with
``--device cuda``; recorded as skipped, with the reason, when not asked or when CUDA is absent."""

from __future__ import annotations

import numpy as np

from . import problems
from .config import BenchConfig
from .targets import record
from .timing import median_time

__all__ = ["bench_cuda"]


def bench_cuda(cfg: BenchConfig, log, requested: bool, seed=0) -> tuple[list, dict]:
    """Section 5. Returns (records, raw); `requested` is whether --device cuda was given."""
    import torch

    what = "torch gradient and HVP throughput on CUDA"
    if not requested:
        return [
            record(
                "cuda.throughput",
                what,
                None,
                "samples/s",
                "recorded with --device cuda",
                None,
                skipped="not requested (run with --device cuda)",
            )
        ], {"skipped": "not requested"}
    if not torch.cuda.is_available():
        msg = "CUDA requested but torch.cuda is not available here: CUDA throughput skipped"
        log(msg)
        return [record("cuda.throughput", what, None, "samples/s", "recorded with --device cuda", None, skipped=msg)], {
            "skipped": msg
        }
    out = {}
    sizes = (("gradient", cfg.grad_widths, cfg.grad_batch), ("hvp", cfg.hvp_widths, cfg.hvp_batch))
    for name, widths, B in sizes:
        net, p, X, Y = problems.problem(widths, B, cfg.dim, seed)
        V = [np.random.default_rng(seed + 1).standard_normal(z.shape) for z in p.Z]
        engine = "torch_dims" if name == "gradient" else "torch_hvp_double_backward"
        fn = problems.engine_fn(engine, net, p, X, Y, V, device="cuda")

        def synced(fn=fn):
            fn()
            torch.cuda.synchronize()

        t = median_time(synced, cfg.repeats)[0]
        out[name] = {"widths": list(widths), "batch": B, "seconds": t, "samples_per_s": B / t}
        log(f"cuda {name}: {t:.4f} s, {B / t:.0f} samples/s")
    return [
        record(
            "cuda.throughput",
            what,
            out["gradient"]["samples_per_s"],
            "samples/s",
            "recorded with --device cuda",
            True,
            hvp_samples_per_s=out["hvp"]["samples_per_s"],
            device=torch.cuda.get_device_name(0),
            runs=out,
        )
    ], out
