"""`derivcheck bench` (`make bench`): the performance targets of issue 7, measured in one run and written
to JSON.

Every target becomes one record ``{"id", "what", "measured", "unit", "target", "pass", "details"}``
in ``results["targets"]`` (``pass`` is None when the target was skipped or not measured here), so a
reader sees the measured value beside the target. Ratios are always between timings of the *same*
run. Nothing here is a unit test; `tests/test_bench.py` only checks the structure on a tiny run.

Methods (what the numbers mean):

* Times are wall-clock medians over ``repeats`` calls after one warm-up call (which also compiles the
  net's primitives; compile_net caches them per net, so steady state is what is timed), except in
  the gradient and HVP sections, where contenders are timed in interleaved rounds and each one's best
  round is used (its median is recorded too): on a shared 2-core VM single calls vary by 2x.
* Symbolic: ``derive.symbolic.compile_program(net, 1, hessian=True, backend)`` from scratch: the
  forward program, its reverse sweep, the full coordinate Hessian (upper triangle) and lambdified
  code for both. The primitive templates (kernel/activation/loss derivatives, cached per kernel) are
  warmed once per backend on a 2-layer net first; their one-off cost is recorded as ``cold``.
* Matmul floor: the same run's time for only the matrix products the manual gradient performs, on
  arrays of the same shapes: per layer a@W^T, delta^T@a, delta@W, G@[Z_(l-1), 1], G^T@[Z_l, 1]. The
  gradient section times the engines, the floor and the bare kernel evaluations (one fused pass per
  layer) in interleaved rounds, so all of them see the same machine.
* Memory, NumPy: ``tracemalloc`` peak above the traced size before the call (NumPy reports its
  array buffers to tracemalloc). Memory, every engine (NumPy and torch alike, for a fair ratio): a
  fresh subprocess builds the inputs, warms up on a tiny net, resets the kernel's high-water mark of
  resident memory (``/proc/self/clear_refs``) and reads it (``VmHWM``) after one gradient call; the
  rise above the resident size before the call is that call's peak extra memory (torch's CPU
  allocator exposes no peak statistic; Linux only, else recorded as None).
* Budget for the manual gradient's extra memory: the forward cache it keeps (a, h and W of every
  layer; R is never stored and a Gaussian's phi(R) = c W is formed in place) plus one N_l x N_(l-1)
  array per layer.

Exit status (`derivcheck bench`): 0 every target of a full run passed or was skipped, 1 a target
failed (a ``--quick`` run is a smoke test and exits 0), 2 bad input.

Modules (one job each): config (sizes), timing (timers, memory peaks, exponent fit), problems (nets,
engine calls, subprocess RSS), one module per section (symbolic, gradient, hvp, scaling, cuda, suite),
targets (records, table, exit status), driver (`run`: sections in order, JSON), cli (the verb).
`python -m derivcheck.bench` is an alias of `derivcheck bench`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from derive.lazy import lazy_names

if TYPE_CHECKING:
    from derivcheck.bench import problems
    from derivcheck.bench.cli import add_arguments, main
    from derivcheck.bench.config import FULL, QUICK, SECTIONS, BenchConfig
    from derivcheck.bench.cuda import bench_cuda, gpu_floor
    from derivcheck.bench.driver import run
    from derivcheck.bench.gradient import bench_gradient, kernel_evaluations, matmul_products
    from derivcheck.bench.hvp import bench_hvp
    from derivcheck.bench.scaling import bench_scaling, plot_scaling
    from derivcheck.bench.suite import SUITE_COMMANDS, bench_suite
    from derivcheck.bench.symbolic import bench_symbolic
    from derivcheck.bench.targets import exit_status, table
    from derivcheck.bench.timing import fit_exponent

__all__ = [
    "BenchConfig",
    "FULL",
    "QUICK",
    "SECTIONS",
    "SUITE_COMMANDS",
    "run",
    "main",
    "add_arguments",
    "table",
    "exit_status",
    "fit_exponent",
    "plot_scaling",
    "matmul_products",
    "kernel_evaluations",
    "bench_symbolic",
    "bench_gradient",
    "bench_hvp",
    "bench_scaling",
    "bench_cuda",
    "gpu_floor",
    "bench_suite",
    "problems",
]

# loaded on first use (and the submodules by name: bench.problems, bench.cuda ...): the command line
# parses bench's options (.cli) without torch or SymPy
_LAZY = {
    "add_arguments": "cli",
    "main": "cli",
    "FULL": "config",
    "QUICK": "config",
    "SECTIONS": "config",
    "BenchConfig": "config",
    "bench_cuda": "cuda",
    "gpu_floor": "cuda",
    "run": "driver",
    "bench_gradient": "gradient",
    "kernel_evaluations": "gradient",
    "matmul_products": "gradient",
    "bench_hvp": "hvp",
    "bench_scaling": "scaling",
    "plot_scaling": "scaling",
    "SUITE_COMMANDS": "suite",
    "bench_suite": "suite",
    "bench_symbolic": "symbolic",
    "exit_status": "targets",
    "table": "targets",
    "fit_exponent": "timing",
}


__getattr__ = lazy_names(__name__, _LAZY, submodules=True)
