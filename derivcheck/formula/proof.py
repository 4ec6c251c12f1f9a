"""Symbolic proof of a formula claim for a fixed small size: the View's entries are exact SymPy
expressions (derive.symbolic.formula_view.symbolic_view), and claimed minus true must be exactly 0
(derive.decide.all_zero, within one time limit)."""

from __future__ import annotations

import numpy as np

from derivcheck.formula.claim import FormulaClaim, layers_of
from derivcheck.formula.view import View, true_value
from derive import MLP, Net
from derive.decide import all_zero
from derive.step_limits import Unfinished, run_limited
from derive.symbolic.formula_view import symbolic_view

__all__ = ["PROOF_SECONDS", "prove_formula"]


def _proof_net(claim: FormulaClaim):
    """The smallest network of the family on which the claim covers at least one layer, with widths
    of at least 2 where the family allows (a 1-wide proof cannot see a transposed product)."""
    fam = claim.family
    if claim.proof_size is not None:
        widths, dim, batch = claim.proof_size
    else:
        lo = len(fam.activations) + 1 if fam.activations else fam.layers[0]
        hi = len(fam.activations) + 1 if fam.activations else fam.layers[1]
        # three layers when allowed: input, hidden and output roles all appear (at L = 2 a formula
        # that confuses h and a of a hidden layer cannot be told apart from the right one)
        L = min(max(lo, 3), hi)
        if not layers_of(claim, L):
            L = next((n for n in range(max(lo, 2), hi + 1) if layers_of(claim, n)), hi)
        w = min(max(2, fam.width[0]), fam.width[1])
        widths = (w,) * L
        if fam.scalar_output:
            widths = widths[:-1] + (1,)
        dim, batch = fam.dim[0], fam.batch[0]
    L = len(widths)
    acts = fam.activations or tuple([fam.hidden[0]] * (L - 2) + [fam.output[0]])
    generic = fam.activations is None and (len(fam.hidden) > 1 or len(fam.output) > 1)
    net: Net | MLP
    if fam.kind == "mlp":
        net = MLP(tuple(widths), activations=acts, loss=fam.loss[0], bias=fam.bias[0])
    else:
        net = Net(
            tuple(widths), dim=dim, kernel=fam.kernels[0], hidden=acts[0], output=acts[-1], loss=fam.loss[0], bias=fam.bias[0]
        )
    return net, batch, generic


#: seconds a symbolic proof may take before the verdict rests on the numeric search alone
PROOF_SECONDS = 20.0


def prove_formula(claim: FormulaClaim, seconds: float = PROOF_SECONDS) -> str:
    """Try to prove `claim` symbolically on the smallest suitable size; returns "proved for ..." or
    "" when the difference does not simplify to 0 within `seconds` (the numeric evidence then stands
    alone). The proof runs in a supervised child (derive.step_limits.run_limited): killed at the limit
    or at the memory cap, it proves nothing."""
    try:
        return run_limited(_prove, claim, seconds=seconds) or ""
    except Unfinished:
        return ""


def _prove(claim: FormulaClaim) -> str:
    net, batch, generic = _proof_net(claim)
    if net.spatial and claim.quantity == "dW":
        return ""  # kernel weights are not free symbols here; dW is checked numerically
    try:
        v = View(**symbolic_view(net, batch, generic))
        for l in layers_of(claim, net.L):
            claimed = np.asarray(claim.fn(v, l), dtype=object)
            exact = np.asarray(true_value(v, claim.quantity, l), dtype=object)
            if claimed.shape != exact.shape:
                if claimed.size == exact.size == 1:
                    claimed = claimed.reshape(exact.shape)
                else:
                    return ""
            if not all_zero([c - t for c, t in zip(claimed.ravel(), exact.ravel())]):
                return ""
    except (ValueError, TypeError, AttributeError, IndexError):
        return ""
    L = net.L
    dims = f", D = {net.dim}" if net.spatial else ""
    acts = (
        "any differentiable activations"
        if generic
        else "activations " + ", ".join(net.f(l).name if hasattr(net.f(l), "name") else str(l) for l in range(2, L + 1))
    )
    return f"proved for (L, N, B) = ({L}, {'x'.join(map(str, net.widths))}, {batch}){dims} with {acts}, loss {net.loss}"
