"""`Net` and `MLP`: the one description of a network that every engine reads; plus the shared
parameter and result types.

Layers are numbered 1..L as in MATH.md; Python lists are 0-based, so ``Z[0]`` is layer 1 and
``dW[0]`` is layer 2 (weights exist for layers 2..L).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np

from derive.errors import SpecError
from derive.primitives import Activation, Kernel, Loss, R, activation, kernel, loss
from derive.primitives.activations import check_grad_at_zero
from derive.primitives.losses import check_reduction
from derive.primitives.penalty import RW, Penalty, penalty

__all__ = ["Net", "MLP", "Params", "Gradients"]


def _check_widths(widths: Sequence[int]) -> tuple[int, ...]:
    try:
        widths = tuple(widths)
    except TypeError:
        raise SpecError(f"widths must be a sequence of integers, got {widths!r}", "pass e.g. widths=(2, 3, 1)") from None
    if len(widths) < 2:
        raise SpecError(f"a network needs L >= 2 layers, got {len(widths)}", "give at least input and output widths")
    for i, n in enumerate(widths, start=1):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise SpecError(f"width of layer {i} is {n!r}; widths must be integers >= 1", "use positive widths")
    return widths


@dataclass(frozen=True)
class Net:
    """A spatially embedded MLP (MATH.md): W^l_ij = g(||z^l_i - z^(l-1)_j||).

    Args:
        widths: N_1..N_L (layer 1 is the input layer), each >= 1, L >= 2.
        dim: spatial dimension D >= 1.
        kernel: a library kernel name (``"gaussian"``) or a formula in ``r`` (``"exp(-r**2/s**2)"``).
        kernel_params: values of the kernel's named parameters (library defaults fill the rest).
        hidden: activation of layers 2..L-1 (``"tanh"``, ``"leaky_relu(alpha=0.1)"`` ...).
        output: activation of layer L.
        loss: ``"mse"``, ``"sse_half"``, ``"mae"``, ``"huber(delta=...)"``, ``"bce"``, ``"softmax_ce"``.
        bias: whether layers 2..L carry free biases b_l.
        amplitudes: "none" (W = g(r), the note's model) or "free" (W = theta * g(r), theta trainable,
            N_l x N_(l-1) per layer; with kernel "1" an ordinary MLP whose nodes have coordinates).
        penalties: penalty terms added to the loss (derive.primitives.penalty.Penalty, or their tables / formula
            texts): J = L + sum_t scale_t reduce_t rho_t(r, w) (MATH.md "The wider model family").
        loss_reduction: None (the loss's own reduction) or "mean" (divide by B K), "batch" (by B: mean over
            the batch, sum over the outputs) or "sum" (by 1); the row loss is unchanged
            (derive.primitives.losses).
        relu_grad_at_zero: None (torch's: ReLU'(0) = 0, leaky ReLU'(0) = alpha) or s in [0, 1], the stated
            subgradient at the kink: f'(0) = f'(0-) + s (f'(0+) - f'(0-)) (derive.primitives.activations).
    """

    widths: tuple[int, ...]
    dim: int = 3
    kernel: str = "gaussian"
    kernel_params: Mapping[str, float] | tuple[tuple[str, float], ...] = ()
    hidden: str = "tanh"
    output: str = "identity"
    loss: str = "mse"
    bias: bool = False
    amplitudes: str = "none"
    penalties: tuple[Penalty, ...] = ()
    loss_reduction: str | None = None
    relu_grad_at_zero: float | None = None
    # Literal so that `if net.spatial:` narrows `Net | MLP` for the type checker.
    spatial: Literal[True] = field(default=True, init=False)

    def __post_init__(self):
        object.__setattr__(self, "widths", _check_widths(self.widths))
        _check_conventions(self)
        if self.amplitudes not in ("none", "free"):
            raise SpecError(f"amplitudes {self.amplitudes!r} is unknown", 'use amplitudes = "none" or "free"')
        _check_penalties(self)
        if isinstance(self.dim, bool) or not isinstance(self.dim, int) or self.dim < 1:
            raise SpecError(f"dimension D is {self.dim!r}; it must be an integer >= 1", "use dim=1, 2 or 3")
        kp = self.kernel_params.items() if isinstance(self.kernel_params, Mapping) else self.kernel_params
        object.__setattr__(self, "kernel_params", tuple(sorted((str(k), float(v)) for k, v in kp)))
        s = self.relu_grad_at_zero
        self.g, activation(self.hidden, s), activation(self.output, s), self.objective  # validate every name now
        if not self.g.expr.has(R) and not self.free and not self.penalties:
            raise SpecError(
                f"kernel {self.kernel!r} does not depend on r and the net has no free amplitudes",
                'write g as a function of the distance r, or set amplitudes = "free"',
            )

    @property
    def free(self) -> bool:
        """theta is trainable (amplitudes "free"): W = theta * g(r)."""
        return self.amplitudes == "free"

    def layer_penalties(self, layer: int) -> list[tuple[Penalty, float]]:
        """(penalty, c) for the terms covering `layer` (2..L); c = scale, or scale / edges for a mean."""
        return _layer_penalties(self, layer)

    @property
    def L(self) -> int:
        return len(self.widths)

    @property
    def g(self) -> Kernel:
        return kernel(self.kernel, self.kernel_params)

    def f(self, layer: int) -> Activation:
        """The activation of layer `layer` (2..L)."""
        return activation(self.output if layer == self.L else self.hidden, self.relu_grad_at_zero)

    @property
    def objective(self) -> Loss:
        return loss(self.loss, self.loss_reduction)

    @property
    def n_coords(self) -> int:
        return self.dim * sum(self.widths)

    def describe(self) -> str:
        # __post_init__ normalised kernel_params to sorted (name, value) pairs.
        pairs = cast(tuple[tuple[str, float], ...], self.kernel_params)
        kp = ",".join(f"{k}={v:g}" for k, v in pairs)
        return (
            f"Net(widths={self.widths}, D={self.dim}, g={self.kernel}{'(' + kp + ')' if kp else ''}, "
            f"hidden={self.hidden}, output={self.output}, loss={self.loss}, bias={self.bias}"
            + (", amplitudes=free" if self.free else "")
            + "".join(f", penalty={p.describe()}" for p in self.penalties)
            + _describe_conventions(self)
            + ")"
        )


@dataclass(frozen=True)
class MLP:
    """An ordinary MLP with explicit weights (the worked examples' setting).

    Args:
        widths: N_1..N_L.
        activations: one activation per layer 2..L (a single string applies to all).
        loss: as for `Net`.
        bias: whether layers carry biases.
        loss_reduction, relu_grad_at_zero: as for `Net`.
        penalties: penalty terms on the weights W directly (weight decay ``"w**2"``, L1 ``"abs(w)"``):
            J = L + sum_t scale_t reduce_t rho_t(w), so dJ/dW_l = dL/dW_l + c_t rho_t'(W_l) on the layers
            the term covers (c_t = scale_t, or scale_t / its edge count for a mean). rho is a formula in
            w alone: an MLP has no coordinates, so a rho naming r is a `SpecError`.
    """

    widths: tuple[int, ...]
    activations: tuple[str, ...] | str = "sigmoid"
    loss: str = "sse_half"
    bias: bool = True
    loss_reduction: str | None = None
    relu_grad_at_zero: float | None = None
    penalties: tuple[Penalty, ...] = ()
    spatial: Literal[False] = field(default=False, init=False)

    def __post_init__(self):
        object.__setattr__(self, "widths", _check_widths(self.widths))
        _check_conventions(self)
        _check_penalties(self)
        for p in self.penalties:
            if RW in p.expr.free_symbols:
                raise SpecError(
                    f'penalty {p.rho!r} uses the distance r, and an MLP (kind = "mlp") has no coordinates',
                    'write rho in w alone (weight decay "w**2", L1 "abs(w)"), or use kind = "spatial" for penalties on distances',
                )
        acts = self.activations
        acts = (acts,) * (len(self.widths) - 1) if isinstance(acts, str) else tuple(acts)
        if len(acts) != len(self.widths) - 1:
            raise SpecError(
                f"{len(acts)} activations for {len(self.widths) - 1} weighted layers", "give one activation per layer 2..L"
            )
        object.__setattr__(self, "activations", acts)
        [self.f(l) for l in range(2, self.L + 1)], self.objective

    @property
    def L(self) -> int:
        return len(self.widths)

    def f(self, layer: int) -> Activation:
        return activation(self.activations[layer - 2], self.relu_grad_at_zero)

    def layer_penalties(self, layer: int) -> list[tuple[Penalty, float]]:
        """(penalty, c) for the terms covering `layer` (2..L), as `Net.layer_penalties`."""
        return _layer_penalties(self, layer)

    @property
    def objective(self) -> Loss:
        return loss(self.loss, self.loss_reduction)

    def describe(self) -> str:
        return (
            f"MLP(widths={self.widths}, activations={self.activations}, loss={self.loss}, bias={self.bias}"
            + "".join(f", penalty={p.describe()}" for p in self.penalties)
            + _describe_conventions(self)
            + ")"
        )


def _check_conventions(net: Net | MLP) -> None:
    check_reduction(net.loss_reduction)
    object.__setattr__(net, "relu_grad_at_zero", check_grad_at_zero(net.relu_grad_at_zero))


def _check_penalties(net: Net | MLP) -> None:
    """Normalise `penalties` (a Penalty, table or formula text, or a sequence of them) to Penalty terms
    whose layers lie in 2..L."""
    given: Any = net.penalties  # as passed: one term, or a sequence of them
    pens = (given,) if isinstance(given, (str, Penalty, Mapping)) else tuple(given)
    object.__setattr__(net, "penalties", tuple(penalty(p) for p in pens))
    for p in net.penalties:
        p.covers(len(net.widths))


def _layer_penalties(net: Net | MLP, layer: int) -> list[tuple[Penalty, float]]:
    return [(p, p.coef(net.widths)) for p in net.penalties if layer in p.covers(net.L)]


def _describe_conventions(net: Net | MLP) -> str:
    """The stated conventions, only where stated (a net without them describes itself as before)."""
    out = "" if net.loss_reduction is None else f", loss_reduction={net.loss_reduction}"
    return out + ("" if net.relu_grad_at_zero is None else f", relu_grad_at_zero={net.relu_grad_at_zero:g}")


@dataclass
class Params:
    """Trainable parameters.

    Attributes:
        Z: coordinates, one N_l x D array per layer 1..L (spatial nets).
        W: weights, one N_l x N_(l-1) array per layer 2..L (ordinary MLPs).
        b: biases, one length-N_l array per layer 2..L, or None.
        theta: amplitudes, one N_l x N_(l-1) array per layer 2..L (nets with amplitudes "free"), or None.
    """

    Z: list[Any] | None = None
    W: list[Any] | None = None
    b: list[Any] | None = None
    theta: list[Any] | None = None


@dataclass
class Gradients:
    """What every engine returns (same type and the same fields filled for symbolic, manual and torch).

    Attributes:
        loss: the loss value.
        dW: dL/dW_l, N_l x N_(l-1), layers 2..L (for spatial nets, the gradient w.r.t. the
            kernel weights treated as free, eq. (4) with a in place of h).
        dZ: dL/dZ_l, N_l x D, layers 1..L (spatial nets), else None.
        db: dL/db_l, layers 2..L, or None without biases.
        dX: dL/dX (B x N_1), the input gradient.
        engine: which engine produced it.
        extra: engine-specific extras (symbolic: the mpf values in ``extra["mp"]``). ``extra["delta"]``
            and ``extra["dA"]`` mirror the fields below (older readers).
        delta: delta_l = dL/dh_l (B x N_l) for layers 1..L, index l-1 = layer l; delta[0] is None
            (the input layer has no pre-activation).
        dA: dL/da_l (B x N_l) for layers 1..L, index l-1 = layer l; dA[0] = dL/dX.
        dtheta: dJ/dtheta_l = dJ/dW_l * g(R_l), layers 2..L (amplitudes "free"), else None.

    With penalties (MATH.md "The wider model family") `loss` is the objective J = L + penalties and
    dW, dZ, dtheta are derivatives of J (dW = dL/dW + the penalties' c rho_w); delta, dA, dX, db are
    the data loss's (penalties do not depend on h, a or b).
    """

    loss: Any
    dW: list[Any]
    dZ: list[Any] | None = None
    db: list[Any] | None = None
    dX: Any = None
    engine: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    delta: list[Any] | None = None
    dA: list[Any] | None = None
    dtheta: list[Any] | None = None

    def __post_init__(self):
        # An engine may give delta/dA either as fields or (older code) in `extra`: keep both views equal.
        for name in ("delta", "dA"):
            if getattr(self, name) is None and self.extra.get(name) is not None:
                setattr(self, name, self.extra[name])
            elif getattr(self, name) is not None:
                self.extra.setdefault(name, getattr(self, name))

    def flat(self) -> np.ndarray:
        """The gradient as one float64 vector in the flat layout (derive.layout): dZ_1..dZ_L, then
        dtheta_2..dtheta_L (free amplitudes), then db_2..db_L for a spatial net (dZ present);
        dW_2..dW_L then db_2..db_L for an MLP."""
        blocks = list(self.dZ if self.dZ is not None else self.dW) + list(self.dtheta or []) + list(self.db or [])
        if not blocks:
            return np.zeros(0)
        return np.concatenate([np.asarray(b, dtype=np.float64).reshape(-1) for b in blocks])
