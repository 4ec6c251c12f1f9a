"""Bench section 2, the manual gradient at width 2048: against torch (cdist and naive pairwise), against
the matmul floor (only the matrix products it performs, same shapes, same run), beside the bare kernel
evaluations and the price of exp; its memory against the forward cache plus one N x N per layer."""

from __future__ import annotations

import statistics

import numpy as np

from derivcheck.bench import problems
from derivcheck.bench.config import BenchConfig
from derivcheck.bench.targets import record
from derivcheck.bench.timing import interleaved_times, median_time, peak_tracemalloc

__all__ = ["matmul_products", "kernel_evaluations", "exp_ns_per_element", "cache_bytes", "bench_gradient"]


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
    its fastest form here (one exact distance pass and one fused multithreaded pass, derive.lambdify): the
    elementwise work no formulation of the gradient can skip. Not part of the issue's floor;
    recorded beside it so the remaining gap is measured, not guessed."""
    from derive import compile_net

    fk = compile_net(net, "numpy").fused
    bufs = [np.empty((p.Z[l].shape[0], p.Z[l - 1].shape[0])) for l in range(1, net.L)]

    def evaluations():
        for l in range(1, net.L):
            fk.weights(p.Z[l], p.Z[l - 1], bufs[l - 1])

    return evaluations


def exp_ns_per_element(n=1 << 22, repeats=5) -> dict:
    """float64 exp cost per element: NumPy (one thread; SIMD exp only with AVX-512) and numexpr (all
    threads, libm): the price of the Gaussian's N^2 exponentials on this machine."""
    import numexpr

    x = -np.random.default_rng(0).random(n)
    out = np.empty_like(x)
    t_np = median_time(lambda: np.exp(x, out=out), repeats)[0]
    t_ne = median_time(lambda: numexpr.evaluate("exp(x)", local_dict={"x": x}, out=out), repeats)[0]
    return {"numpy": 1e9 * t_np / n, "numexpr": 1e9 * t_ne / n, "numexpr_threads": numexpr.get_num_threads()}


def cache_bytes(widths, batch) -> tuple[int, int]:
    """(the gradient's forward cache in bytes: a and h of every layer and W of every layer, the lean
    cache `numeric.manual.gradients` keeps for a Gaussian, whose phi(R) = c W is never stored;
    one N_l x N_(l-1) float64 array per layer)."""
    acts = sum(batch * n for n in widths) + sum(batch * n for n in widths[1:])
    mats = sum(widths[l] * widths[l - 1] for l in range(1, len(widths)))
    return 8 * (acts + mats), 8 * mats


def bench_gradient(cfg: BenchConfig, log, seed=0) -> tuple[list, dict]:
    """Section 2 at `cfg.grad_widths` x `cfg.grad_batch`. Returns (records, raw timings and memory)."""
    widths, B, D = cfg.grad_widths, cfg.grad_batch, cfg.dim
    net, p, X, Y = problems.problem(widths, B, D, seed)
    fns = {e: problems.engine_fn(e, net, p, X, Y) for e in ("manual", "torch_cdist", "torch_pairwise")}
    fns["floor"] = matmul_products(widths, B, D, seed)
    fns["kernel"] = kernel_evaluations(net, p)
    times, all_ts = interleaved_times(fns, cfg.repeats)
    for k, t in times.items():
        log(f"gradient {k}: {t:.3f} s (runs: {', '.join(f'{x:.3f}' for x in all_ts[k])})")
    floor, kern = times.pop("floor"), times.pop("kernel")
    exp_ns = exp_ns_per_element()
    log(
        f"float64 exp per element: numpy {exp_ns['numpy']:.2f} ns, "
        f"numexpr {exp_ns['numexpr']:.2f} ns ({exp_ns['numexpr_threads']} threads)"
    )
    man = problems.engine_fn("manual", net, p, X, Y)
    tm = peak_tracemalloc(man)
    cache, per_layer = cache_bytes(widths, B)
    budget = cache + per_layer
    rss = {e: (problems.rss_extra(e, widths, B, D, seed) if cfg.rss else None) for e in ("manual", "torch_cdist", "torch_pairwise")}
    mb = 1 / 2**20
    where = f"L={len(widths)} widths {widths[1]} D={D} batch {B} float64"
    r_cdist = times["torch_cdist"] / times["manual"]
    r_pair = times["torch_pairwise"] / times["manual"]
    r_floor = times["manual"] / floor
    recs = [
        record(
            "gradient.vs_cdist",
            f"torch(cdist) time / manual time, {where}",
            r_cdist,
            "x",
            ">= 2",
            r_cdist >= 2,
            manual_s=times["manual"],
            torch_cdist_s=times["torch_cdist"],
        ),
        record(
            "gradient.vs_pairwise",
            f"torch(naive pairwise) time / manual time, {where}",
            r_pair,
            "x",
            ">= 4",
            r_pair >= 4,
            manual_s=times["manual"],
            torch_pairwise_s=times["torch_pairwise"],
        ),
        record(
            "gradient.vs_floor",
            f"manual time / matmul floor, {where}",
            r_floor,
            "x",
            "<= 1.3",
            r_floor <= 1.3,
            manual_s=times["manual"],
            floor_s=floor,
            kernel_eval_s=kern,
            vs_floor_plus_kernel=times["manual"] / (floor + kern),
            exp_ns_numpy=exp_ns["numpy"],
            exp_ns_numexpr=exp_ns["numexpr"],
        ),
        record(
            "gradient.memory",
            f"manual peak extra memory (tracemalloc) vs forward cache + one N x N per layer, {where}",
            tm * mb,
            "MiB",
            budget * mb,
            tm <= budget,
            forward_cache_mib=cache * mb,
            one_nxn_per_layer_mib=per_layer * mb,
            rss_extra_mib={k: (None if v is None else v * mb) for k, v in rss.items()},
        ),
    ]
    raw = {
        "widths": list(widths),
        "batch": B,
        "times_s": times,
        "floor_s": floor,
        "kernel_eval_s": kern,
        "all_times_s": all_ts,
        "median_times_s": {k: statistics.median(v) for k, v in all_ts.items()},
        "exp_ns_per_element": exp_ns,
        "tracemalloc_bytes": tm,
        "rss_extra_bytes": rss,
        "budget_bytes": budget,
    }
    return recs, raw
