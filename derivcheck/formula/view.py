"""What a formula sees: the `View` of one network's forward cache and true derivatives (batch rows,
index 0 = layer 1), built from the manual engine, and `true_value`, the entry a claim is compared with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from derive import MLP, Net, Params
from numeric import manual

__all__ = ["QUANTITIES", "View", "view", "true_value"]


#: quantity name -> what it is (per layer, batch rows first).
QUANTITIES = {
    "delta": "dL/dh_l (B x N_l)",
    "dA": "dL/da_l (B x N_l)",
    "dW": "dL/dW_l (N_l x N_(l-1))",
    "db": "dL/db_l (N_l)",
    "dZ": "dL/dZ_l (N_l x D)",
    "dX": "dL/dX (B x N_1)",
    "dact": "f_l'(h_l) (B x N_l)",
    "W": "W_l = g(R_l) (N_l x N_(l-1))",
    "h": "h_l (B x N_l)",
    "a": "a_l (B x N_l)",
}


@dataclass
class View:
    """The documented forward cache a formula reads; every list has L entries (index 0 = layer 1),
    entries that do not exist for a layer are None (h, W, b, dact, R, phi, dg, dW, db at layer 1).

    Attributes:
        X, Y: inputs B x N_1 and targets B x N_L.
        a, h: activations and pre-activations, B x N_l (a[0] = X).
        W: weights N_l x N_(l-1) (kernel weights g(R_l) for spatial nets). b: biases (N_l) or None.
        dact: f_l'(h_l), B x N_l. Z: coordinates N_l x D (spatial). R: distances N_l x N_(l-1).
        phi: phi(R_l) = g'(R_l)/R_l (its limit at 0). dg: g'(R_l).
        delta, dA: dL/dh_l and dL/da_l (B x N_l), true values.
        dW, db, dZ, dX, loss: true gradients (dZ only for spatial nets).
        net: the network.
    """

    net: Any
    X: Any
    Y: Any
    a: list
    h: list
    W: list
    b: list | None
    dact: list
    Z: list | None
    R: list
    phi: list
    dg: list
    delta: list
    dA: list
    dW: list
    db: list | None
    dZ: list | None
    dX: Any
    loss: Any

    @property
    def L(self) -> int:
        return self.net.L


def view(net: Net | MLP, params: Params, X, Y) -> View:
    """Forward cache plus true first derivatives (manual engine) for one case, as a `View`."""
    from derive import compile_net

    cache = manual.forward(net, params, X, Y)
    g = manual.gradients(net, params, X, Y)
    c = compile_net(net, "numpy")
    L = net.L
    with np.errstate(all="ignore"):
        dact: list[Any] = [None] + [
            np.broadcast_to(np.asarray(c.df[l - 1](cache.h[l]), dtype=float), cache.h[l].shape) for l in range(1, L)
        ]
        dg: list[Any] = [None] * L
        if net.spatial:
            assert c.dg is not None  # compile_net gives every spatial net g'
            dg = [None] + [np.asarray(c.dg(r), dtype=float) for r in cache.R[1:]]
    pad = lambda xs: None if xs is None else [None, *xs]  # noqa: E731  (layers 2..L -> index 1..L-1)
    assert g.delta is not None and g.dA is not None  # every engine fills delta and dA
    return View(
        net=net,
        X=cache.X,
        Y=cache.Y,
        a=cache.a,
        h=cache.h,
        W=cache.W,
        b=pad(cache.b),
        dact=dact,
        Z=cache.Z,
        R=cache.R,
        phi=cache.phiR,
        dg=dg,
        delta=g.delta,
        dA=g.dA,
        dW=[None, *g.dW],
        db=pad(g.db),
        dZ=g.dZ,
        dX=g.dX,
        loss=g.loss,
    )


def true_value(v: View, quantity: str, l: int):
    """The true value of `quantity` at 0-based layer `l` from a view."""
    if quantity == "dX":
        return v.dX
    # per-layer lists; db and dZ are None for nets without them (FormulaClaim rejects such families)
    table: dict[str, Any] = {
        "delta": v.delta,
        "dA": v.dA,
        "dW": v.dW,
        "db": v.db,
        "dZ": v.dZ,
        "dact": v.dact,
        "W": v.W,
        "h": v.h,
        "a": v.a,
    }
    return table[quantity][l]
