"""The exact gradient (and sparse Hessian) program of one net at one batch size, lambdified:
`compile_program` returns a `CompiledProgram`; `cached_mpmath_program` keeps the mpmath ones the ground
truth uses."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache

from derive.net import MLP, Net
from derive.symbolic.build import Built, adjoint_expr, build_program, gradient_outputs, hessian_variables
from derive.symbolic.codegen import lambdify_program

__all__ = ["CompiledProgram", "compile_program"]


@dataclass
class CompiledProgram:
    """Lambdified exact derivatives of one net at one batch size.

    Attributes:
        built: the symbolic program (`Built`); inputs: argument order of the callables
            (params, biases, X row-major, Y row-major).
        gradient: {target: f(*inputs) -> [loss, dparams..., dbiases..., (dW...), dX..., delta..., dA...]}
            (delta_l = dL/dh_l and dA_l = dL/da_l for layers 2..L, B x N_l row-major each).
        hessian: {target: f(*inputs) -> upper triangle of H, row by row} or {} without Hessian.
        wrt: Hessian variables (leaf names). timings: seconds for "derive" and "codegen".
        n_nodes, n_lines: program size and generated lines (all targets' code is built lazily).
    """

    built: Built
    wrt: list[str]
    hess_entries: list
    targets: tuple[str, ...]
    gradient: dict = field(default_factory=dict)
    hessian: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)

    @property
    def inputs(self) -> list[str]:
        return self.built.inputs

    @property
    def n_nodes(self) -> int:
        return len(self.built.prog.nodes)

    def gradient_for(self, target: str):
        """The gradient callable for `target`, generated on first use from the same `built` program
        (the arb truth reuses the cached mpmath program's derivation: one derivation, two printers)."""
        if target not in self.gradient:
            self.gradient[target] = lambdify_program(self.built.prog, self.built.inputs, gradient_outputs(self.built), target)
        return self.gradient[target]

    def hessian_matrix(self, values, target="numpy"):
        """Full symmetric n x n Hessian (list of lists) from the upper-triangle callable."""
        flat = self.hessian[target](*values)
        n = len(self.wrt)
        H = [[None] * n for _ in range(n)]
        it = iter(flat)
        for k in range(n):
            for m in range(k, n):
                H[k][m] = H[m][k] = next(it)
        return H


def compile_program(
    net: Net | MLP, batch: int = 1, hessian: bool = True, backend: str = "sympy", wrt: str | None = None, targets=("numpy",)
) -> CompiledProgram:
    """Derive the exact gradient (and Hessian) program of `net` and lambdify it.

    Args:
        net: the network. batch: B. hessian: also derive the full Hessian (upper triangle).
        backend: "sympy" or "symengine": the CAS that differentiates the primitives.
        wrt: Hessian variables (derive.layout): None (default) = all parameters, coordinates or
            weights then biases; "Z" (spatial) / "W" (MLP) = that group only, no biases.
        targets: lambdify targets among "numpy" (float64), "mpmath" and "arb" (balls; more on demand:
            `CompiledProgram.gradient_for`).

    Returns:
        `CompiledProgram` with callables and ``timings = {"derive": s, "codegen": s}``.
    """
    t0 = time.perf_counter()
    built = build_program(net, batch, backend)
    wrt_names = hessian_variables(built, wrt) if hessian else []
    entries = []
    if hessian:
        bar_outs = [adjoint_expr(built, n) for n in wrt_names]
        rows = built.prog.hessian(bar_outs, wrt_names)
        entries = [e for row in rows for e in row]
    t1 = time.perf_counter()
    cp = CompiledProgram(built, wrt_names, entries, tuple(targets))
    for target in targets:
        cp.gradient[target] = lambdify_program(built.prog, built.inputs, gradient_outputs(built), target)
        if hessian:
            cp.hessian[target] = lambdify_program(built.prog, built.inputs, entries, target)
    t2 = time.perf_counter()
    cp.timings = {"derive": t1 - t0, "codegen": t2 - t1}
    return cp


@lru_cache(maxsize=32)
def cached_mpmath_program(net, batch, hessian, wrt):
    """`compile_program(net, batch, hessian=hessian, wrt=wrt)` with the mpmath target only, cached."""
    return compile_program(net, batch, hessian=hessian, wrt=wrt, targets=("mpmath",))
