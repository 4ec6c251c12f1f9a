"""Bench section 5, CUDA (issue 17): the torch engine's gradient and H v on the GPU against the same
run's GPU floor, in float64 and float32, when asked with ``--device cuda``; recorded as skipped, with
the reason, when not asked or when CUDA is absent.

Per dtype (sizes from `BenchConfig`: cuda_widths, cuda_batch, cuda_dtypes; L=4, widths 8192, D=3,
batch 1024 in FULL):

* gradient: ``numeric.autograd.gradients(..., quantities=("loss", "dZ"), as_numpy=False)``: loss and
  dL/dZ left on the device (no N x N dL/dW is copied out), inputs sent from the host as a caller's
  NumPy parameters are; each formulation of `BenchConfig.cuda_formulations` (autograd through r^2
  "dims", through torch.cdist, and "eq8": dL/dW by autograd, dL/dZ by the efficient form of eq. (8))
  is timed and the fastest one is the gradient of the targets (all are recorded).
* H v: ``numeric.autograd.second_order.hvp(..., as_numpy=False)``, V over the coordinates; each method of
  `BenchConfig.cuda_hvp_methods` (double backward, torch.func forward-over-reverse) is timed and the
  fastest one is the H v of the targets (all are recorded).
* floor: on tensors of the same shapes already on the device, just the matrix products the gradient
  needs (per layer a W^T, delta^T a, delta W, G [Z_(l-1), 1], G^T [Z_l, 1]) and the kernel evaluations
  g(R) and phi(R) = g'(R)/R of every layer (R computed once, outside the timing).

Every call is followed by ``torch.cuda.synchronize()`` inside the timed region (kernels run
asynchronously), the three are timed in interleaved rounds (`timing.interleaved_times`) and each one's
best round is used. Targets: gradient <= 2 x floor, H v <= 3 gradients. The section runs the same
code with device="cpu" (tiny sizes in the tests: the record structure, not the speed)."""

from __future__ import annotations

import numpy as np

from derivcheck.bench import problems
from derivcheck.bench.config import BenchConfig
from derivcheck.bench.targets import record
from derivcheck.bench.timing import interleaved_times

__all__ = ["bench_cuda", "gpu_floor", "target_ids"]

GRAD_VS_FLOOR, HVP_IN_GRADS = 2.0, 3.0


def target_ids(cfg: BenchConfig) -> list[str]:
    """The section's record ids, in order: throughput, then per dtype the two ratios."""
    return ["cuda.throughput"] + [f"cuda.{k}.{dt}" for dt in cfg.cuda_dtypes for k in ("grad_vs_floor", "hvp_in_grads")]


def _what(tid: str) -> tuple[str, str, str]:
    """(what, unit, target) of a record id."""
    if tid == "cuda.throughput":
        return "torch gradient throughput on the device (first dtype)", "samples/s", "recorded with --device cuda"
    kind, dt = tid.split(".")[1:]
    if kind == "grad_vs_floor":
        return f"gradient time / GPU floor ({dt})", "x", f"<= {GRAD_VS_FLOOR:g}"
    return f"H v time / gradient time ({dt})", "x", f"<= {HVP_IN_GRADS:g}"


def _record(tid: str, measured, ok, **details) -> dict:
    what, unit, target = _what(tid)
    return record(tid, what, measured, unit, target, ok, **details)


def _skipped(cfg: BenchConfig, msg: str) -> tuple[list, dict]:
    return [_record(t, None, None, skipped=msg) for t in target_ids(cfg)], {"skipped": msg}


def gpu_floor(net, p, X, device, dtype):
    """A callable doing just the gradient's matrix products and kernel evaluations on `device`, on
    tensors of the gradient's shapes made once (module docstring)."""
    import torch

    from derive import compile_net

    c = compile_net(net, "torch")
    tdt = torch.float64 if np.dtype(dtype) == np.float64 else torch.float32
    gen = torch.Generator(device="cpu").manual_seed(0)

    def t(*shape):
        return torch.randn(*shape, generator=gen, dtype=tdt).to(device)

    widths, B = net.widths, X.shape[0]
    Z1 = [torch.cat([torch.as_tensor(z, dtype=tdt), torch.ones(len(z), 1, dtype=tdt)], 1).to(device) for z in p.Z]
    R = [torch.cdist(Z1[l][:, :-1], Z1[l - 1][:, :-1]) for l in range(1, net.L)]
    a = [t(B, n) for n in widths]
    d = [t(B, n) for n in widths]

    def floor():
        W = [c.g(r) for r in R]
        for l in range(1, net.L):
            a[l - 1] @ W[l - 1].T
        for l in range(net.L - 1, 0, -1):
            G = (d[l].T @ a[l - 1]) * c.phi(R[l - 1])
            d[l] @ W[l - 1]
            G @ Z1[l - 1]
            G.T @ Z1[l]

    return floor


def bench_cuda(cfg: BenchConfig, log, requested: bool, seed=0, device: str = "cuda") -> tuple[list, dict]:
    """Section 5. Returns (records, raw); `requested` is whether --device cuda was given; `device` is
    "cuda" (the bench) or "cpu" (the same code at tiny sizes in the tests)."""
    import torch

    if not requested:
        return _skipped(cfg, "not requested (run with --device cuda)")
    if device == "cuda" and not torch.cuda.is_available():
        msg = "skipped: torch.cuda is not available here"
        log(msg)
        return _skipped(cfg, msg)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    net, p, X, Y = problems.problem(cfg.cuda_widths, cfg.cuda_batch, cfg.dim, seed)
    V = [np.random.default_rng(seed + 1).standard_normal(z.shape) for z in p.Z]
    raw: dict = {"device": name, "widths": list(cfg.cuda_widths), "batch": cfg.cuda_batch}
    recs: list = []
    for dt in cfg.cuda_dtypes:
        dtype = np.dtype(dt).type
        kw = dict(device=device, dtype=dtype, as_numpy=False)
        fns = {
            f"gradient_{f}": problems.engine_fn(f"torch_{f}", net, p, X, Y, **kw, quantities=("loss", "dZ"))
            for f in cfg.cuda_formulations
        }
        for m in cfg.cuda_hvp_methods:
            fns[f"hvp_{m}"] = problems.engine_fn(f"torch_hvp_{m}", net, p, X, Y, V, **kw)
        fns["floor"] = gpu_floor(net, p, X, device, dtype)

        def synced(fn):
            def call():
                fn()
                sync()

            return call

        best, times = interleaved_times({k: synced(f) for k, f in fns.items()}, cfg.repeats)
        fastest = min(cfg.cuda_formulations, key=lambda f: best[f"gradient_{f}"])
        method = min(cfg.cuda_hvp_methods, key=lambda m: best[f"hvp_{m}"])
        g, h, fl = best[f"gradient_{fastest}"], best[f"hvp_{method}"], best["floor"]
        raw[dt] = {
            "seconds": best,
            "times": times,
            "fastest": fastest,
            "hvp_method": method,
            "grad_vs_floor": g / fl,
            "hvp_in_grads": h / g,
        }
        log(f"{device} {dt}: grad ({fastest}) {g:.3g} s = {g / fl:.2f} x floor, H v = {h / g:.2f} grads")
        if not recs:
            recs.append(
                _record("cuda.throughput", cfg.cuda_batch / g, True, dtype=dt, device=name, hvp_samples_per_s=cfg.cuda_batch / h)
            )
        for kind, value, limit in (("grad_vs_floor", g / fl, GRAD_VS_FLOOR), ("hvp_in_grads", h / g, HVP_IN_GRADS)):
            recs.append(
                _record(
                    f"cuda.{kind}.{dt}",
                    value,
                    value <= limit,
                    device=name,
                    formulation=fastest,
                    hvp_method=method,
                    gradient_s=g,
                    hvp_s=h,
                    floor_s=fl,
                )
            )
    return recs, raw
