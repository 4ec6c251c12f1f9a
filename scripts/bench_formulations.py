"""Which formulation of the torch gradient is fastest (issue 17, item 1): a measurement, not a test.

    PYTHONPATH=. python scripts/bench_formulations.py [--device cpu|cuda] [--widths 1024] [--batch 256]

Times loss + dL/dZ at L=4, D=3, float64 (by default widths 1024, batch 256), median of --repeats calls
after one warm-up, results left on the device (as_numpy=False), synchronised on CUDA:
  dims      autograd through r^2 summed over the D coordinates (numeric.autograd's default)
  pairwise  autograd through an N x N x D difference array
  cdist     autograd through torch.cdist (first order only; NaN gradient at r = 0)
  eq8       autograd for dL/dW only (W as leaves), then the efficient form of eq. (8) in torch:
            G = dL/dW * phi(R), dZ_l = Z_l rowsum(G) - G Z_(l-1), dZ_(l-1) = Z_(l-1) colsum(G) - G^T Z_l
  dims+dW   the default verification call (every quantity, NumPy on the host), for reference
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from derive import Net, Params, compile_net
from numeric import autograd


def problem(widths, batch, dim, seed=0):
    rng = np.random.default_rng(seed)
    net = Net(tuple(widths), dim=dim)
    Z = [rng.uniform(-1, 1, (n, dim)) for n in widths]
    return net, Params(Z=Z), rng.standard_normal((batch, widths[0])), rng.standard_normal((batch, widths[-1]))


def eq8(net, p, X, Y, dev, tdt):
    """Loss and dL/dZ by the efficient form of eq. (8): autograd gives dL/dW (W as leaves), the
    coordinate gradient is two matrix products per layer pair (no N x N x D array)."""
    c = compile_net(net, "torch")
    Z = [torch.as_tensor(z, dtype=tdt, device=dev) for z in p.Z]
    Xt, Yt = torch.as_tensor(X, dtype=tdt, device=dev), torch.as_tensor(Y, dtype=tdt, device=dev)
    R = [torch.cdist(Z[l], Z[l - 1]) for l in range(1, net.L)]
    W = [c.g(r).requires_grad_(True) for r in R]
    a = Xt
    for l in range(1, net.L):
        a = c.f[l - 1](a @ W[l - 1].T)
    value = c.loss_rows(*a.T, *Yt.T).sum() / c.divisor(*a.shape)
    dW = torch.autograd.grad(value, W)
    dZ = [torch.zeros_like(z) for z in Z]
    for l in range(1, net.L):
        G = dW[l - 1] * c.phi(R[l - 1])
        dZ[l] += Z[l] * G.sum(1)[:, None] - G @ Z[l - 1]
        dZ[l - 1] += Z[l - 1] * G.sum(0)[:, None] - G.T @ Z[l]
    return value.detach(), dZ


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
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    net, p, X, Y = problem([a.widths] * a.layers, a.batch, 3)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    q = ("loss", "dZ")
    fns = {
        "dims": lambda: autograd.gradients(net, p, X, Y, device=a.device, dtype=dtype, as_numpy=False, quantities=q),
        "pairwise": lambda: autograd.gradients(net, p, X, Y, device=a.device, dtype=dtype, formulation="pairwise",
                                               as_numpy=False, quantities=q),
        "cdist": lambda: autograd.gradients(net, p, X, Y, device=a.device, dtype=dtype, formulation="cdist",
                                            as_numpy=False, quantities=q),
        "eq8": lambda: eq8(net, p, X, Y, dev, tdt),
        "dims+dW": lambda: autograd.gradients(net, p, X, Y, device=a.device, dtype=dtype),
    }
    ref = fns["dims"]().dZ
    got = fns["eq8"]()[1]
    err = max(float((g - r).abs().max() / r.abs().max()) for g, r in zip(got, ref))
    print(f"L={a.layers} widths {a.widths} D=3 batch {a.batch} {a.dtype} on {dev}; threads {torch.get_num_threads()};"
          f" eq8 vs dims max rel diff {err:.1e}")
    for name, fn in fns.items():
        fn()
        sync()
        ts = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            fn()
            sync()
            ts.append(time.perf_counter() - t0)
        print(f"{name:9s} median {statistics.median(ts):.4f} s  min {min(ts):.4f} s")


if __name__ == "__main__":
    main()
