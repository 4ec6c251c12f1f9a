"""Which formulation of the torch gradient is fastest (issue 17, item 1): a measurement, not a test.

    PYTHONPATH=. python scripts/bench_formulations.py [--device cpu|cuda] [--widths 1024] [--batch 256]

Times loss + dL/dZ at L=4, D=3, float64 (by default widths 1024, batch 256), --repeats interleaved
rounds after one warm-up (min and median), results left on the device (as_numpy=False), synchronised on CUDA:
  dims      autograd through r^2 summed over the D coordinates (numeric.autograd's default)
  pairwise  autograd through an N x N x D difference array
  cdist     autograd through torch.cdist (first order only; NaN gradient at r = 0)
  eq8       autograd for dL/dW only (W as leaves), then the efficient form of eq. (8) in torch
            (numeric.autograd's "eq8"): G = dL/dW * phi(R), dZ_l = Z_l rowsum(G) - G Z_(l-1), ...
  dims+dW   the default verification call (every quantity, NumPy on the host), for reference
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from derive import Net, Params
from numeric import autograd


def problem(widths, batch, dim, seed=0):
    rng = np.random.default_rng(seed)
    net = Net(tuple(widths), dim=dim)
    Z = [rng.uniform(-1, 1, (n, dim)) for n in widths]
    return net, Params(Z=Z), rng.standard_normal((batch, widths[0])), rng.standard_normal((batch, widths[-1]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--widths", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    a = ap.parse_args()
    dev = torch.device(a.device)
    dtype = np.dtype(a.dtype).type
    net, p, X, Y = problem([a.widths] * a.layers, a.batch, 3)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    q = ("loss", "dZ")
    fns = {
        "dims": lambda: autograd.gradients(net, p, X, Y, device=a.device, dtype=dtype, as_numpy=False, quantities=q),
        "pairwise": lambda: autograd.gradients(
            net, p, X, Y, device=a.device, dtype=dtype, formulation="pairwise", as_numpy=False, quantities=q
        ),
        "cdist": lambda: autograd.gradients(
            net, p, X, Y, device=a.device, dtype=dtype, formulation="cdist", as_numpy=False, quantities=q
        ),
        "eq8": lambda: autograd.gradients(
            net, p, X, Y, device=a.device, dtype=dtype, formulation="eq8", as_numpy=False, quantities=q
        ),
        "dims+dW": lambda: autograd.gradients(net, p, X, Y, device=a.device, dtype=dtype),
    }
    ref = fns["dims"]().dZ
    got = fns["eq8"]().dZ
    err = max(float((g - r).abs().max() / r.abs().max()) for g, r in zip(got, ref))
    print(
        f"L={a.layers} widths {a.widths} D=3 batch {a.batch} {a.dtype} on {dev}; threads {torch.get_num_threads()};"
        f" eq8 vs dims max rel diff {err:.1e}"
    )
    # Interleaved rounds (one call of each per round): a slow spell of a shared machine hits every
    # formulation alike; the minimum is the least-disturbed run, the median is printed beside it.
    for fn in fns.values():
        fn()
    sync()
    ts: dict = {k: [] for k in fns}
    for _ in range(a.repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            sync()
            ts[name].append(time.perf_counter() - t0)
    for name, t in ts.items():
        print(f"{name:9s} min {min(t):.4f} s  median {statistics.median(t):.4f} s")


if __name__ == "__main__":
    main()
