"""Formula claims: a hand-derived formula, written as a Python function of the forward cache, is
searched for a counterexample over hypothesis-drawn networks and, when none is found, proved for a
fixed small size (claimed minus exact simplifies to 0).

A formula is ``fn(c, l) -> array``: `c` is a `View` (below), `l` a 0-based layer index (0 = layer 1,
as everywhere in the project); it returns the claimed value of `quantity` at layer `l`::

    def delta_hidden(c, l):            # delta_l = (delta_(l+1) W_(l+1)) * f_l'(h_l), batch rows
        return (c.delta[l + 1] @ c.W[l + 1]) * c.dact[l]

    claim = FormulaClaim("my-delta", "delta", delta_hidden, layers="hidden", family=Family(hidden=("tanh",)))
    verdict = check_formula(claim, seed=0)   # verdict.holds, verdict.counterexample, verdict.proof
    check_formula(claim, seed=0, raise_=True)  # or: a false claim raises derive.VerificationError

A false claim's counterexample carries its `numeric.compare.Finding` (`verdict.finding`): quantity,
layer and entry, both values, absolute error against TOLERANCES' formula rows, seed and command.

The true values come from `numeric.manual.gradients`; the search is hypothesis' own (`find`, seeded,
with its shrinking, so the counterexample has the fewest layers, nodes and dimensions and the
simplest numbers it could reach).

Modules: `view` (what a formula sees), `claim` (FormulaClaim, Family, verdicts), `search` (the numeric
counterexample search, `check_formula`), `proof` (the symbolic proof, `prove_formula`).
"""

from derivcheck.formula.claim import LAYER_SETS, Counterexample, Family, FormulaClaim, FormulaVerdict, layers_of
from derivcheck.formula.proof import PROOF_SECONDS, prove_formula
from derivcheck.formula.search import check_formula
from derivcheck.formula.view import QUANTITIES, View, true_value, view

__all__ = [
    "View",
    "Family",
    "FormulaClaim",
    "Counterexample",
    "FormulaVerdict",
    "view",
    "check_formula",
    "prove_formula",
    "true_value",
    "layers_of",
    "PROOF_SECONDS",
    "QUANTITIES",
    "LAYER_SETS",
]
