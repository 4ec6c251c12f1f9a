"""The exact symbolic engine: loss, gradients and Hessians of a `Net` or `MLP`, exactly, and their
50-digit values (the ground truth every other engine is judged against).

Two routes to the same derivatives, compared in the tests:

* **program** (`compile_program`): the forward pass as a program of intermediate symbols
  (r2_ij, W_ij, h, a, row losses), symbolic reverse mode over it for the gradient and sparse
  forward-over-reverse for the Hessian (derive/symbolic/program.py), then lambdified. Fast.
* **flat** (`flat_loss`, `flat_gradient`): the loss as one SymPy expression of the coordinate symbols,
  differentiated by `sympy.diff`. Independent, for tiny nets and the derivation report.

Coincident nodes (r = 0): the kernel enters as W = G(s) with s = r^2, G(s) = g(sqrt s), so
G'(s) = phi(r)/2 and G''(s) = phi'(r)/(4 r) (phi = g'/r, MATH.md "Coincident nodes"); at s = 0 their
limits are taken symbolically. The gradient exists there iff g'(0) = 0 (else `SpecError`); the Hessian
needs in addition lim r phi'(r) = 0 (then G'' only ever multiplies r2's tangent, which is 0 there).

Where each part lives (this module re-exports them; import from here):

* derive/symbolic/templates.py: kernel, penalty, activation and loss templates (the primitives).
* derive/symbolic/build.py: `build_program`, `Built` (the forward program and its reverse sweep).
* derive/symbolic/compiled_program.py: `compile_program`, `CompiledProgram` (lambdified, cached).
* derive/symbolic/truth.py: `gradients`, `hessian`, `hvp` (the ground truth); derive/symbolic/truth_inputs.py: their
  input checks.
* derive/symbolic/flat_route.py: `FlatLoss`, `flat_loss`, `flat_gradient`.
* derive/symbolic/proof.py: `Derivation`, `derivation` (eq. (8) and its proof).
"""

from __future__ import annotations

from derive.symbolic.build import build_program
from derive.symbolic.compiled_program import CompiledProgram, compile_program
from derive.symbolic.flat_route import flat_gradient, flat_loss
from derive.symbolic.proof import Derivation, derivation
from derive.symbolic.templates import kernel_templates
from derive.symbolic.truth import gradients, hessian, hvp

__all__ = [
    "gradients",
    "hessian",
    "hvp",
    "compile_program",
    "build_program",
    "CompiledProgram",
    "flat_loss",
    "flat_gradient",
    "derivation",
    "Derivation",
    "kernel_templates",
]
