"""The exact symbolic engine: loss, gradients and Hessians of a `Net` or `MLP`, exactly, and their
50-digit values (the ground truth every other engine is judged against).

Two routes to the same derivatives, compared in the tests:

* **program** (`compile_program`): the forward pass as a program of intermediate symbols
  (r2_ij, W_ij, h, a, row losses), symbolic reverse mode over it for the gradient and sparse
  forward-over-reverse for the Hessian (derive/program.py), then lambdified. Fast.
* **flat** (`flat_loss`, `flat_gradient`): the loss as one SymPy expression of the coordinate symbols,
  differentiated by `sympy.diff`. Independent, for tiny nets and the derivation report.

Coincident nodes (r = 0): the kernel enters as W = G(s) with s = r^2, G(s) = g(sqrt s), so
G'(s) = phi(r)/2 and G''(s) = phi'(r)/(4 r) (phi = g'/r, MATH.md "Coincident nodes"); at s = 0 their
limits are taken symbolically. The gradient exists there iff g'(0) = 0 (else `SpecError`); the Hessian
needs in addition lim r phi'(r) = 0 (then G'' only ever multiplies r2's tangent, which is 0 there).

Where each part lives (this module re-exports them; import from here):

* derive/templates.py: kernel, penalty, activation and loss templates (the primitives).
* derive/build.py: `build_program`, `Built` (the forward program and its reverse sweep).
* derive/compiled_program.py: `compile_program`, `CompiledProgram` (lambdified, cached).
* derive/truth.py: `gradients`, `hessian`, `hvp` (the ground truth); derive/truth_inputs.py: their
  input checks.
* derive/flat_route.py: `FlatLoss`, `flat_loss`, `flat_gradient`.
* derive/derivation.py: `Derivation`, `derivation` (eq. (8) and its proof).
"""

from __future__ import annotations

# Names beyond __all__ (the parts' types, helpers the tests reach) as redundant aliases: re-exports.
from .build import Built as Built
from .build import build_program
from .build import flat_names as flat_names
from .compiled_program import CompiledProgram, compile_program
from .derivation import Derivation, derivation
from .flat_route import FlatLoss as FlatLoss
from .flat_route import flat_gradient, flat_loss
from .templates import S as S
from .templates import activation_template as activation_template
from .templates import kernel_templates
from .templates import loss_template as loss_template
from .templates import penalty_template as penalty_template
from .truth import gradients, hessian, hvp
from .truth_inputs import exact_inputs as exact_inputs

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
