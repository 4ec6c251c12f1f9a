"""One failure path and one tolerance table: errors against a reference, the `Finding` every check
produces, the function that records or raises it, and the exact identities of MATH.md.

Error measures (normwise, so entries that cancel to ~0 do not dominate):
    rel_error(x, truth) = max|x - truth| / max(max|truth|, tiny)
    ulp_error(x, truth) = max|x - truth| / spacing(max|truth|) in the engine's dtype

Every check (engine entries, identities, Taylor slopes, H v, formula and worked-number claims) builds
a `Finding` and passes it to `report` (or a `Findings` collector): a failed finding is recorded, or
raised as `derive.VerificationError` carrying the finding. Every tolerance is a row of `TOLERANCES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from derive import SpecError, VerificationError

__all__ = [
    "TOLERANCES",
    "tolerance",
    "rel_error",
    "ulp_error",
    "Finding",
    "MEASURES",
    "report",
    "Findings",
    "check_close",
    "check_gradients",
    "check_identity",
    "translation_residual",
    "rotation_asymmetry",
    "translation_sum",
    "rotation_moment",
    "permutation_residual",
    "quantities",
    "QUANTITIES",
]

QUANTITIES = ("loss", "dW", "dtheta", "dZ", "db", "dX", "hvp")

_EPS64, _EPS32 = float(np.finfo(np.float64).eps), float(np.finfo(np.float32).eps)

# One table: dtype -> quantity -> tolerance. Rows, by the check that reads them:
#
# Engine vs the 50-digit ground truth (max relative error, `check_close`). float64: a handful of layers
# of O(1) ops, each within a few ulps (2.2e-16), with cancellation in eq. (8)'s backward/forward terms;
# float32 likewise at eps = 1.2e-7. "fd" is central differences, limited by h^2 ~ eps^(2/3).
#
# Exact identities (relative residual, `check_identity`; 0 in exact arithmetic): translation (sum of
# dL/dz over all nodes), rotation (asymmetry of sum z dL/dz^T), permutation of hidden nodes, and the
# Hessian's symmetry, translation null vectors and rotation null vectors at a critical point (residuals
# of `numeric.spectrum`). float64: 1e-12 ~ 4500 eps, room for sums over a few hundred terms. float32:
# the same multiple of eps32 (verify checks identities on float64 engines only).
#
# Taylor test (`numeric.fd.taylor_slope`): the MINIMUM fitted log-log slope of the remainder, which is
# 2 for a correct gradient and 3 with a correct H v; 0.1 below absorbs the fit's noise over 5 steps,
# while a 1 % error in the gradient flattens the slope to ~1. "taylor_floor" is the remainder below
# which rounding dominates, relative to max(1, |L|): 1000 ulps of the loss. The remainder is evaluated
# in float64 whatever the engine's dtype, so both rows hold the float64 values.
#
# Formula claims (`derivcheck.formula`, |claimed - true| <= atol + rtol |true| entrywise): the claimed
# formula is evaluated in float64 from the same forward cache as the engine, so only reassociation
# separates a right formula from the truth; 1e-7 relative leaves room for sums over many layers,
# 1e-10 absolute for entries that cancel to ~0. float32: the float32-engine tolerance of the tests.
#
# Rounding noise ("noise", `check_gradients`): an entry that cancels to (nearly) 0 can only be computed to
# ~eps times the terms that cancel in it, whatever its own size; its error is also accepted when it is
# within 100 eps of the problem's scale S = max(|loss|, largest gradient entry). A quantity far below
# 100 eps S cannot be resolved in that dtype at all; every larger error is judged relative as above.
#
# Worked numbers (`derivcheck.claimsfile.judge_number`): "printed" is the relative slack for the binary
# representation of the printed decimal itself (eps/2 per parse and a few ops for the true value).
#
# Hessian spectra (`numeric.spectrum`): "eigen_zero" times n max|lambda| is the zero-eigenvalue
# threshold (the matrix-rank convention n eps |H| with 1000x room for the engines' rounding); "rank" is
# the relative singular-value cut that ranks the rigid-motion vectors (collinear or coincident nodes
# lose rotations exactly, generic ones keep O(1) values). `spectrum` works on float64 Hessians and reads
# the float64 row; the float32 row scales by eps32 for a caller judging a float32 Hessian.
TOLERANCES: dict[str, dict[str, float]] = {
    "float64": {
        "loss": 1e-12,
        "dW": 1e-10,
        "dtheta": 1e-10,
        "dZ": 1e-9,
        "db": 1e-10,
        "dX": 1e-10,
        "hvp": 1e-8,
        "fd": 1e-5,
        "translation": 1e-12,
        "rotation": 1e-12,
        "permutation": 1e-12,
        "hessian_symmetry": 1e-12,
        "hessian_translation": 1e-12,
        "hessian_rotation": 1e-12,
        "taylor_grad": 1.9,
        "taylor_hvp": 2.9,
        "taylor_floor": 1e3 * _EPS64,
        "formula_rtol": 1e-7,
        "formula_atol": 1e-10,
        "printed": 1e-12,
        "noise": 100 * _EPS64,
        "eigen_zero": 1e3 * _EPS64,
        "rank": 1e-10,
    },
    "float32": {
        "loss": 1e-5,
        "dW": 1e-4,
        "dtheta": 1e-4,
        "dZ": 1e-3,
        "db": 1e-4,
        "dX": 1e-4,
        "hvp": 1e-3,
        "fd": 5e-2,
        "translation": 5e-4,
        "rotation": 5e-4,
        "permutation": 5e-4,
        "hessian_symmetry": 5e-4,
        "hessian_translation": 5e-4,
        "hessian_rotation": 5e-4,
        "taylor_grad": 1.9,
        "taylor_hvp": 2.9,
        "taylor_floor": 1e3 * _EPS64,
        "formula_rtol": 1e-3,
        "formula_atol": 1e-5,
        "printed": 1e-6,
        "noise": 100 * _EPS32,
        "eigen_zero": 1e3 * _EPS32,
        "rank": 1e-4,
    },
}


def tolerance(dtype, quantity: str) -> float:
    """The tolerance of `quantity` for an engine computing in `dtype` (a row of `TOLERANCES`).

    Raises:
        SpecError: an unknown dtype or quantity (never a silent default).
    """
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = repr(dtype)
    row = TOLERANCES.get(name)
    if row is None:
        raise SpecError(f"no tolerances for dtype {name}", f"use one of {', '.join(TOLERANCES)}")
    if quantity not in row:
        raise SpecError(
            f"no tolerance for quantity {quantity!r} ({name})",
            f"use one of {', '.join(row)} or add a row to numeric.compare.TOLERANCES",
        )
    return row[quantity]


# ------------------------------------------------------------------------------------------ findings

#: error measure -> (how the message names it, whether the error must stay at or below the tolerance).
#: "slope" is the other way round: the tolerance is the minimum slope.
MEASURES = {
    "rel": ("relative error", True),
    "ulp": ("error in ulps", True),
    "abs": ("absolute error", True),
    "slope": ("fitted slope", False),
    "shape": ("shape", True),
}


def _num(x: Any) -> str:
    """A value as printed in a finding: floats to every digit (shortest round-trip repr)."""
    if isinstance(x, (float, np.floating)):
        return repr(float(x))
    return x if isinstance(x, str) else repr(x)


@dataclass
class Finding:
    """One check: which quantity where, which engine against which reference, both values, the error
    in its measure, the tolerance, and the seed and command that reproduce it.

    Attributes:
        quantity: "dZ", "hvp", "translation", "grad" (Taylor), a formula claim's quantity, ...
        engine: who computed `value` ("manual", "torch-cpu", "claim 'x'", "taylor").
        error: the error in `measure` units (for "slope", the fitted slope itself).
        tol: the tolerance (for "slope", the minimum slope).
        where: the worst entry, e.g. " of layer 2, node 1, dim 0" (layers 1-based, as in MATH.md).
        value, truth: the compared entries (or scalars: a residual and 0, a slope and its order).
        measure: a key of `MEASURES`. reference: what `truth` is ("ground truth", "manual engine").
        ulp: the same difference in ulps of the engine's dtype (entry comparisons), else NaN.
        seed, command: the seed of the case and the one-line command that reproduces it.
        note: what went wrong when it is not a number (a shape, an undefined formula).
    """

    quantity: str
    engine: str
    error: float
    tol: float
    where: str = field(default="", kw_only=True)
    value: Any = field(default=float("nan"), kw_only=True)
    truth: Any = field(default=float("nan"), kw_only=True)
    measure: str = field(default="rel", kw_only=True)
    reference: str = field(default="ground truth", kw_only=True)
    ulp: float = field(default=float("nan"), kw_only=True)
    seed: int | None = field(default=None, kw_only=True)
    command: str | None = field(default=None, kw_only=True)
    note: str = field(default="", kw_only=True)

    def __post_init__(self):
        if self.measure not in MEASURES:
            raise SpecError(f"unknown error measure {self.measure!r}", f"use one of {', '.join(MEASURES)}")

    @property
    def ok(self) -> bool:
        """Within tolerance (NaN errors fail)."""
        if self.note:
            return False
        below = MEASURES[self.measure][1]
        return bool(self.error <= self.tol) if below else bool(self.error > self.tol)

    @property
    def rel(self) -> float:
        """The relative error (NaN for other measures)."""
        return self.error if self.measure == "rel" else float("nan")

    def describe(self, *, reproduce: bool = True) -> str:
        """One line: quantity, place, engines, both values, error and tolerance, seed, command."""
        s = f"{self.quantity}{self.where} ({self.engine} vs {self.reference}): {_num(self.value)} vs {_num(self.truth)}, "
        name, below = MEASURES[self.measure]
        if self.note:
            s += self.note
        elif below:
            s += f"{name} {self.error:.3g} {'<=' if self.ok else '>'} tolerance {self.tol:.3g}"
            if self.measure == "rel" and not np.isnan(self.ulp):
                s += f" ({self.ulp:.3g} ulp)"
        else:
            s += f"{name} {self.error:.3f} {'above' if self.ok else 'not above'} the minimum {self.tol:.3g}"
        if self.seed is not None:
            s += f"; seed {self.seed}"
        if reproduce and self.command:
            s += f"; reproduce: {self.command}"
        return s


def report(finding: Finding, *, into: list[Finding] | None = None, raise_: bool = False) -> Finding:
    """The one failure path. A failed `finding` is appended to `into` and, with `raise_`, raised as
    `derive.VerificationError` (its `.finding` is the finding); a passing one is returned untouched.

    Raises:
        VerificationError: `finding` failed and `raise_` is set.
    """
    if finding.ok:
        return finding
    if into is not None:
        into.append(finding)
    if raise_:
        raise VerificationError(finding.describe(), finding=finding)
    return finding


class Findings:
    """Collects the findings of one run (one case, one claims file) with its seed and command.

    `findings.report(f)` fills in the seed and command when `f` has none and passes it to `report`:
    `checks` holds every finding, `failures` the failed ones; with `raise_` the first failure raises.
    """

    def __init__(self, *, seed: int | None = None, command: str | None = None, raise_: bool = False):
        self.seed, self.command, self.raise_ = seed, command, raise_
        self.checks: list[Finding] = []
        self.failures: list[Finding] = []

    def report(self, finding: Finding) -> Finding:
        if finding.seed is None:
            finding.seed = self.seed
        if finding.command is None:
            finding.command = self.command
        self.checks.append(finding)
        return report(finding, into=self.failures, raise_=self.raise_)

    @property
    def ok(self) -> bool:
        return not self.failures


# ----------------------------------------------------------------------------------- error measures


def _cat(x) -> np.ndarray:
    if x is None:
        return np.zeros(0)
    if isinstance(x, (list, tuple)):
        return np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in x]) if x else np.zeros(0)
    return np.asarray(x, dtype=np.float64).reshape(-1)


def _shape_check(x: np.ndarray, t: np.ndarray) -> None:
    if x.shape != t.shape:
        report(
            Finding(
                "array",
                "value",
                float("inf"),
                0.0,
                value=x.shape,
                truth=t.shape,
                measure="shape",
                note=f"shape {x.shape} where the reference has shape {t.shape}",
            ),
            raise_=True,
        )


def rel_error(x, truth) -> float:
    x, t = _cat(x), _cat(truth)
    _shape_check(x, t)
    if t.size == 0:
        return 0.0
    return float(np.max(np.abs(x - t)) / max(float(np.max(np.abs(t))), np.finfo(np.float64).tiny))


def ulp_error(x, truth, dtype=np.float64) -> float:
    x, t = _cat(x), _cat(truth)
    if t.size == 0:
        return 0.0
    scale = np.spacing(np.asarray(max(float(np.max(np.abs(t))), np.finfo(dtype).tiny), dtype=dtype))
    with np.errstate(over="ignore"):  # an error against an exact 0 is inf ulps, not a warning
        return float(np.float64(np.max(np.abs(x - t))) / np.float64(scale))


def quantities(grads) -> dict[str, object]:
    """The quantities of a `Gradients` that are present, by name."""
    out = {
        "loss": grads.loss,
        "dW": grads.dW,
        "dZ": grads.dZ,
        "db": grads.db,
        "dX": grads.dX,
        "dtheta": getattr(grads, "dtheta", None),
    }
    return {k: v for k, v in out.items() if v is not None}


#: How a failure names an entry: quantity -> (layer of the first block, index names). Block b of a
#: per-layer list is layer b + first (1-based, as in MATH.md); None: one array, no layer.
_ENTRIES: dict[str, tuple[int | None, tuple[str, ...]]] = {
    "dZ": (1, ("node", "dim")),
    "dW": (2, ("row", "col")),
    "dtheta": (2, ("row", "col")),
    "db": (2, ("node",)),
    "dX": (None, ("example", "input")),
}


def _name(layer: int | None, names: tuple[str, ...], k: tuple) -> str:
    """' of layer 2, node 1, dim 0', ' of example 0, input 1' or, without names, ' entry [4]'."""
    if len(names) != len(k):
        return (f" of layer {layer}," if layer is not None else "") + f" entry {[int(i) for i in k]}"
    return " of " + ", ".join(([f"layer {layer}"] if layer is not None else []) + [f"{n} {int(i)}" for n, i in zip(names, k)])


def _locate(quantity: str, x, truth, entries_as: str | None = None) -> tuple[str, float, float]:
    """Name the worst entry, e.g. ' of layer 2, node 1, dim 0' (layers 1-based, entries 0-based).
    `entries_as` names the entries as for that quantity (an H v over the Z blocks: "dZ"); quantities
    without names (hvp, grad) give ' of block b, entry [i, j]' or ' entry [k]'."""
    first, names = _ENTRIES.get(entries_as or quantity, (None, ()))
    if not isinstance(x, (list, tuple)):
        xa, ta = np.asarray(x, dtype=np.float64), np.asarray(truth, dtype=np.float64)
        k = np.unravel_index(np.argmax(np.abs(xa - ta)), xa.shape) if xa.ndim else ()
        return (_name(None, names, k) if k else ""), float(xa[k]), float(ta[k])
    best = (-1.0, "", np.nan, np.nan)
    for l, (a, t) in enumerate(zip(x, truth)):
        a, t = np.asarray(a, dtype=np.float64), np.asarray(t, dtype=np.float64)
        if a.size == 0:
            continue
        k = np.unravel_index(np.argmax(np.abs(a - t)), a.shape)
        err = float(abs(a[k] - t[k]))
        if err > best[0]:
            where = _name(l + first, names, k) if first is not None else f" of block {l}, entry {[int(i) for i in k]}"
            best = (err, where, float(a[k]), float(t[k]))
    return best[1], best[2], best[3]


def check_close(
    quantity: str,
    engine: str,
    x,
    truth,
    dtype=np.float64,
    tol: float | None = None,
    *,
    reference: str = "ground truth",
    entries_as: str | None = None,
    scale: float | None = None,
) -> Finding:
    """Compare one quantity of one engine against a reference (does not raise; pass the result to
    `report`). `tol` defaults to `tolerance(dtype, quantity)`; `entries_as` see `_locate`.

    With `scale` (the problem's scale S, see `check_gradients`) the error also passes when it is within
    the rounding noise `tolerance(dtype, "noise") * S`: the relative error is taken against
    max(max|truth|, noise S / tol), so `error <= tol` reads |x - truth| <= max(tol max|truth|, noise S).
    Without it the measure is the plain normwise relative error.
    """
    tol = tolerance(dtype, quantity) if tol is None else tol
    where, v, t = _locate(quantity, x, truth, entries_as)
    err, ulp = rel_error(x, truth), ulp_error(x, truth, dtype)
    tc = _cat(truth)
    floor = tolerance(dtype, "noise") * scale / tol if scale and tol > 0 else 0.0
    if tc.size and floor > float(np.max(np.abs(tc))):
        err = float(np.max(np.abs(_cat(x) - tc))) / floor
    return Finding(quantity, engine, err, tol, where=where, value=v, truth=t, ulp=ulp, reference=reference)


def check_gradients(grads, truth, dtype=np.float64, *, engine: str | None = None, reference: str = "ground truth") -> list[Finding]:
    """`check_close` for every first-order quantity both `Gradients` hold (loss, dW, dZ, db, dX), with
    the problem's scale S = max(|loss|, largest gradient entry of `truth`) for the rounding-noise floor.

    Why a floor: an entry that cancels to ~0 by symmetry (dX when two output nodes sit at one place and
    their dL/da are opposite; every gradient at a stationary point; tanh' in saturation) is exactly 0,
    or ~1e-50, in the exact reference, and an engine that rounds the cancelling terms (an FMA, 1 - tanh^2)
    leaves ~eps S there: a relative error against 0 says nothing about the engine.
    """
    tq, gq = quantities(truth), quantities(grads)
    S = max([abs(float(truth.loss))] + [float(np.max(np.abs(_cat(v)))) for k, v in tq.items() if k != "loss" and _cat(v).size])
    return [
        check_close(q, engine or grads.engine, gq[q], t, dtype=dtype, reference=reference, scale=S)
        for q, t in tq.items()
        if q in gq
    ]


def check_identity(identity: str, engine: str, residual: float, dtype=np.float64) -> Finding:
    """An exact identity's relative residual (0 in exact arithmetic) against its tolerance."""
    return Finding(
        identity,
        engine,
        float(residual),
        tolerance(dtype, identity),
        value=float(residual),
        truth=0.0,
        reference=f"the {identity} identity",
    )


# -------------------------------------------------------------------------------- exact identities


def translation_sum(dZ) -> np.ndarray:
    """sum over all nodes of all layers of dL/dz_i (D,): exactly 0 in exact arithmetic (translation invariance).

    Args:
        dZ: list of (N_l, D) arrays, one per layer.
    """
    return np.asarray(sum(np.asarray(d).sum(axis=0) for d in dZ), dtype=np.float64)


def rotation_moment(Z, dZ) -> np.ndarray:
    """M = sum_i z_i (dL/dz_i)^T (D x D) over all nodes of all layers: symmetric in exact arithmetic
    (rotation invariance), so M - M^T is the raw rotation residual.

    Args:
        Z, dZ: lists of (N_l, D) arrays, one per layer.
    """
    return np.asarray(sum(np.asarray(z).T @ np.asarray(d) for z, d in zip(Z, dZ)), dtype=np.float64)


def translation_residual(dZ, *, scale: float = 0.0) -> float:
    """|translation_sum(dZ)| / max(max|dZ|, scale): exactly 0 in exact arithmetic (translation invariance).

    `scale` floors the denominator with the problem's size (callers pass |loss|): at a stationary point
    every dL/dz is rounding noise and noise divided by noise says nothing about the engine.
    """
    total = translation_sum(dZ)
    own = max(float(np.abs(d).max()) for d in dZ)
    return float(np.abs(total).max() / max(own, scale, np.finfo(np.float64).tiny))


def rotation_asymmetry(Z, dZ, *, scale: float = 0.0) -> float:
    """|M - M^T| / max(|M|, max|z| max|dL/dz|, scale) with M = rotation_moment(Z, dZ) (symmetric by
    rotation invariance); M has the units of the loss, so callers pass |loss| as `scale` (see
    `translation_residual`)."""
    M = rotation_moment(Z, dZ)
    own = max(float(np.abs(M).max()), float(max(np.abs(np.asarray(z)).max() * np.abs(np.asarray(d)).max() for z, d in zip(Z, dZ))))
    return float(np.abs(M - M.T).max() / max(own, scale, np.finfo(np.float64).tiny))


def permutation_residual(dZ_permuted, dZ, perm) -> float:
    """max|dL/dZ' - P dL/dZ| / max|dL/dZ| for one layer whose nodes (and biases) were permuted by
    `perm` (Z' = Z[perm]): relabelling hidden nodes permutes their gradient rows, nothing else."""
    d, dp = np.asarray(dZ), np.asarray(dZ_permuted)
    return float(np.abs(dp - d[perm]).max() / max(float(np.abs(d).max()), np.finfo(np.float64).tiny))
