"""Bench section 4, scaling curves: time and memory of the manual gradient and HVP against width,
the exponent fitted over the upper half of the widths, and the log-log figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from derivcheck.bench import problems
from derivcheck.bench.config import BenchConfig
from derivcheck.bench.targets import record
from derivcheck.bench.timing import fit_exponent, median_time, peak_tracemalloc
from derivcheck.provenance import atomic_write_bytes

__all__ = ["bench_scaling", "plot_scaling"]


def bench_scaling(cfg: BenchConfig, log, out_png: Path | None, seed=0) -> tuple[list, dict]:
    """Section 4 over `cfg.scaling_widths`; the figure goes to `out_png` (None: none).
    Returns (records, raw rows and exponents)."""
    rows = []
    for w in cfg.scaling_widths:
        widths = (w,) * cfg.scaling_layers
        net, p, X, Y = problems.problem(widths, cfg.scaling_batch, cfg.dim, seed)
        V = [np.random.default_rng(seed + 1).standard_normal(z.shape) for z in p.Z]
        g, h = problems.engine_fn("manual", net, p, X, Y), problems.engine_fn("manual_hvp", net, p, X, Y, V)
        reps = cfg.repeats if w <= 1024 else 1
        tg, th = median_time(g, reps)[0], median_time(h, reps)[0]
        mg, mh = peak_tracemalloc(g), peak_tracemalloc(h)
        rows.append({"width": w, "grad_s": tg, "hvp_s": th, "grad_bytes": mg, "hvp_bytes": mh})
        log(f"scaling width {w}: grad {tg:.4f} s {mg / 2**20:.1f} MiB, hvp {th:.4f} s {mh / 2**20:.1f} MiB")
    ws = [r["width"] for r in rows]
    # the asymptotic regime: the upper half of the widths (small widths are overhead-bound)
    upper = [r for r in rows if r["width"] >= ws[len(ws) // 2]]
    fits = {
        key: fit_exponent([r["width"] for r in upper], [r[key] for r in upper])
        for key in ("grad_s", "hvp_s", "grad_bytes", "hvp_bytes")
    }
    fits_all = {key: fit_exponent(ws, [r[key] for r in rows]) for key in fits}
    recs = [
        record(
            f"scaling.{key}",
            f"fitted exponent of manual {key.split('_')[0]} "
            f"{'time' if key.endswith('_s') else 'memory'} in width (widths {upper[0]['width']}.."
            f"{upper[-1]['width']}, L={cfg.scaling_layers}, batch {cfg.scaling_batch})",
            v,
            "exponent",
            "~2 (1.7..2.3)",
            1.7 <= v <= 2.3,
            fit_over_all_widths=fits_all[key],
        )
        for key, v in fits.items()
    ]
    if out_png is not None:
        plot_scaling(rows, fits, out_png)
    return recs, {
        "rows": rows,
        "exponents": fits,
        "exponents_all_widths": fits_all,
        "plot": None if out_png is None else str(out_png),
    }


def plot_scaling(rows, fits, path: Path) -> None:
    """Log-log time and memory of the manual gradient and HVP against width, with fitted slopes,
    written atomically (format from the suffix: .png for the bench, .pdf for the report)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ws = [r["width"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.8))
    for key, label in (("grad_s", "gradient"), ("hvp_s", "HVP")):
        ax1.loglog(ws, [r[key] for r in rows], "o-", label=f"{label} (slope {fits[key]:.2f})")
    for key, label in (("grad_bytes", "gradient"), ("hvp_bytes", "HVP")):
        ax2.loglog(ws, [r[key] / 2**20 for r in rows], "o-", label=f"{label} (slope {fits[key]:.2f})")
    ax1.set(xlabel="width N", ylabel="time [s]", title="manual engine: time")
    ax2.set(xlabel="width N", ylabel="peak extra memory [MiB]", title="manual engine: memory")
    from matplotlib.ticker import NullFormatter

    for ax in (ax1, ax2):
        ax.set_xticks(ws, [str(w) for w in ws])  # the measured widths, not crowded minor labels
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend()
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".") or "png", dpi=120)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
