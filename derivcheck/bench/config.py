"""Sizes and repeats of a bench run: `BenchConfig`, the issue's `FULL` configuration, the `QUICK`
smoke run, and the section names in running order."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BenchConfig", "FULL", "QUICK", "SECTIONS"]


@dataclass(frozen=True)
class BenchConfig:
    """Sizes and repeats of one bench run (FULL is the issue's configuration, QUICK a smoke run)."""

    symbolic: tuple = (((4, 4, 4), 1.0), ((8, 8, 8, 8), 8.0), ((16, 16, 16), 45.0))
    symbolic_backends: tuple = ("sympy", "symengine")
    # the exact Hessian on balls by layers (derive.symbolic.layered_hvp): widths and its seconds target
    hessian_balls: tuple = ((64, 64, 64), 120.0)
    grad_widths: tuple = (2048, 2048, 2048, 2048)
    grad_batch: int = 256
    hvp_widths: tuple = (512, 512, 512)
    hvp_batch: int = 64
    scaling_widths: tuple = (128, 256, 512, 1024, 2048, 4096)
    scaling_layers: int = 3
    scaling_batch: int = 64
    cuda_widths: tuple = (8192, 8192, 8192, 8192)  # the CUDA section (issue 17): gradient and H v
    cuda_batch: int = 1024
    cuda_dtypes: tuple = ("float64", "float32")
    cuda_formulations: tuple = ("dims", "cdist", "eq8")  # numeric.autograd.FORMULATIONS timed on the GPU
    cuda_hvp_methods: tuple = ("double_backward", "func")  # numeric.autograd.second_order.METHODS timed on the GPU
    truth_widths: tuple = ((8, 8, 4), (32, 32, 10), (64, 64, 10))  # check-grad's sizes (issue 25)
    truth_dim: int = 2
    # check-grad on the nets people train (issue 25): (widths, wall-time target in seconds), 25 cases each
    checkgrad: tuple = (((64, 64, 10), 5.0), ((256, 128, 10), 20.0), ((784, 128, 10), 60.0))
    checkgrad_cases: int = 25
    truth_batch: int = 3
    dim: int = 3
    repeats: int = 7
    rss: bool = True  # subprocess peak-RSS measurements (seconds each: a fresh interpreter)
    suite: bool = False  # time `make test`'s pytest command and `derivcheck verify --quick` (minutes)
    quick: bool = False
    extra: dict = field(default_factory=dict)


FULL = BenchConfig(suite=True)
QUICK = BenchConfig(
    # one stand-in per full-size target, each of its own size: the ids (symbolic.L{layers}w{width}) stay unique
    symbolic=(((2, 2, 2), 1.0), ((2, 3, 3, 2), 8.0), ((3, 3, 3), 45.0)),
    hessian_balls=((4, 4, 4), 120.0),
    grad_widths=(64, 64, 64, 64),
    grad_batch=16,
    hvp_widths=(32, 32, 32),
    hvp_batch=8,
    scaling_widths=(16, 32, 64),
    scaling_batch=8,
    cuda_widths=(64, 64, 64, 64),
    cuda_batch=16,
    truth_widths=((4, 4, 2), (8, 8, 4)),
    checkgrad=(((8, 8, 4), 5.0),),
    checkgrad_cases=5,
    repeats=1,
    rss=False,
    quick=True,
)

SECTIONS = ("symbolic", "gradient", "hvp", "penalty", "truth", "checkgrad", "scaling", "cuda", "suite")
