"""Worked-number claims files (TOML): parsing and validation. The printed-precision rule lives in
derivcheck.claims.precision.

The format is documented in README.md ("Claims files"). In short::

    [document]   id, title, source, rounding_allowance (default 1), tolerance (optional)
    [network]    kind = "mlp" | "spatial", widths, activations | hidden/output, loss, bias,
                 input_layer (the document's number for the input layer), weights/biases | coordinates
    [data]       x, y (one row per example), learning_rate (optional)
    [[claim]]    id, where, quantity, layer, index (optional), value, text, note, tolerance (optional)

Values are best written as strings ("0.000531") so the printed digits survive TOML's float parsing;
plain numbers are accepted and read at the precision of their shortest repr.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from derivcheck.claims.precision import printed
from derivcheck.netspec import net_from_table, read_toml
from derive import MLP, Net, Params, SpecError

__all__ = [
    "WorkedFile",
    "WorkedClaim",
    "load_worked",
    "WORKED_QUANTITIES",
]

#: quantity -> meaning (document layer numbering; "layer" is required unless noted).
WORKED_QUANTITIES = {
    "z": "pre-activation z_l (= h_l)",
    "a": "activation a_l (a at the input layer is x)",
    "loss": "loss value (no layer)",
    "delta": "dL/dz_l",
    "dA": "dL/da_l (at the output layer: dL/dy_hat)",
    "dX": "dL/dx (no layer)",
    "dW": "dL/dW_l",
    "db": "dL/db_l",
    "dact": "f_l'(z_l)",
    "jacobian": "J_l = da_l/da_(l-1) = diag(f_l'(z_l)) W_l (one example)",
    "W+": "W_l - eta dL/dW_l",
    "b+": "b_l - eta dL/db_l",
    "W": "weights W_l (spatial: theta_l g(R_l), theta = 1 unless amplitudes are free)",
    "R": "distances R_l (spatial)",
    "dZ": "dL/dZ_l (spatial)",
    "Z+": "Z_l - eta dL/dZ_l (spatial)",
    "dtheta": "dJ/dtheta_l (spatial, amplitudes free)",
    "penalty": "penalty value: every term (no layer), or the terms' sum over layer l's edges (spatial)",
}
_NO_LAYER = {"loss", "dX", "penalty"}  # penalty: the layer is optional
# [network] keys of claims files beyond the shared spec fields (netspec.NETWORK_KEYS)
_CLAIMS_NETWORK_KEYS = ("input_layer", "weights", "biases", "coordinates", "theta")


@dataclass
class WorkedClaim:
    id: str
    quantity: str
    value: Any
    layer: int | None = None
    index: tuple | None = None
    where: str = ""
    text: str = ""
    note: str = ""
    tolerance: float | None = None


@dataclass
class WorkedFile:
    """A parsed claims file: the network and data in engine form, and its claims."""

    path: Path
    doc_id: str
    title: str
    source: str
    net: Net | MLP
    params: Params
    X: np.ndarray
    Y: np.ndarray
    input_layer: int
    learning_rate: float | None
    rounding_allowance: float
    tolerance: float | None
    claims: list[WorkedClaim]
    note: str = ""
    meta: dict = field(default_factory=dict)

    def index(self, layer: int) -> int:
        """0-based engine index of a document layer number."""
        i = layer - self.input_layer
        if not 0 <= i < self.net.L:
            raise SpecError(
                f"{self.path.name}: layer {layer} does not exist (the input layer is {self.input_layer}, "
                f"the network has {self.net.L} layers)",
                "use the document's layer numbers",
            )
        return i


def _need(table: dict, key: str, where: str, path: Path):
    if key not in table:
        raise SpecError(f"{path.name}: [{where}] has no '{key}'", f"add {key} = ... to [{where}]")
    return table[key]


def _floats(x, name: str, path: Path) -> Any:
    try:
        return (
            np.asarray(x, dtype=float)
            if not isinstance(x, list) or not x or not isinstance(x[0], str)
            else np.asarray([printed(v)[0] for v in x])
        )
    except (TypeError, ValueError):
        raise SpecError(f"{path.name}: {name} is not a numeric array", f"write {name} as nested lists of numbers") from None


# the keys each table of a claims file may hold (anything else is a typo: refused, not ignored)
_TOP_KEYS = ("document", "network", "data", "claim")
_DOCUMENT_KEYS = ("id", "title", "source", "rounding_allowance", "tolerance", "note")
_DATA_KEYS = ("x", "y", "learning_rate")
_CLAIM_KEYS = ("id", "where", "quantity", "layer", "index", "value", "text", "note", "tolerance")


def _table(value, where: str, path: Path, keys: tuple[str, ...]) -> dict:
    """A TOML table with only the documented `keys`."""
    if not isinstance(value, dict):
        raise SpecError(f"{path.name}: {where} is {type(value).__name__}, not a table", f"write {where} as a TOML table")
    for key in value:
        if key not in keys:
            raise SpecError(f"{path.name}: {where} has unknown key {key!r}", f"use only {', '.join(keys)}")
    return value


def _number(value, name: str, path: Path, *, minimum: float | None = None, positive: bool = False) -> float:
    """A finite real TOML number (not a string, not a boolean), optionally >= minimum or > 0."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or (minimum is not None and value < minimum)
        or (positive and value <= 0)
    ):
        rule = "> 0" if positive else f">= {minimum:g}" if minimum is not None else "finite"
        raise SpecError(
            f"{path.name}: {name} = {value!r} is not a finite number {rule}".replace(" finite finite", " finite"),
            f"write {name} as a number {rule}, e.g. {name} = 0.5",
        )
    return float(value)


def _integer(value, name: str, path: Path, minimum: int) -> int:
    """A TOML integer >= minimum (1.9, "2" and true are refused, not truncated)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SpecError(
            f"{path.name}: {name} = {value!r} is not an integer >= {minimum}", f"write {name} as a whole number >= {minimum}"
        )
    return value


def _theta(netd: dict, net, path: Path) -> list | None:
    """[network] theta (one N_l x N_(l-1) array per layer 2..L): required with amplitudes = "free",
    refused without (the engines check the shapes)."""
    if not net.free:
        if "theta" in netd:
            raise SpecError(f'{path.name}: [network] theta given but amplitudes = "none"', 'add amplitudes = "free" or drop theta')
        return None
    return [_floats(t, "theta", path) for t in _need(netd, "theta", "network", path)]


def load_worked(path: str | Path) -> WorkedFile:
    """Read and validate a worked-number claims file.

    Raises:
        SpecError: unreadable TOML, a missing key, an unknown quantity or a shape that does not fit.
    """
    path = Path(path)
    data = _table(read_toml(path), "the file", path, _TOP_KEYS)
    doc = _table(data.get("document", {}), "[document]", path, _DOCUMENT_KEYS)
    netd = _need(data, "network", "top level", path)
    if not isinstance(netd, dict):
        raise SpecError(f"{path.name}: network is not a table", "write [network] as a TOML table")
    datad = _table(_need(data, "data", "top level", path), "[data]", path, _DATA_KEYS)
    input_layer = _integer(netd.get("input_layer", 1), "input_layer", path, 0)
    allowance = _number(doc.get("rounding_allowance", 1.0), "rounding_allowance", path, minimum=0)
    doc_tol = doc.get("tolerance")
    if doc_tol is not None:
        doc_tol = _number(doc_tol, "tolerance", path, minimum=0)
    lr = datad.get("learning_rate")
    if lr is not None:
        lr = _number(lr, "learning_rate", path, positive=True)
    raw_claims = data.get("claim", [])
    if not isinstance(raw_claims, list):
        raise SpecError(f"{path.name}: claim is not an array of tables", "write each claim as [[claim]]")
    kind = netd.get("kind", "mlp")
    biases = netd.get("biases")
    bias = biases is not None
    for key in ("weights", "biases", "coordinates", "theta"):
        if key in netd and not isinstance(netd[key], list):
            raise SpecError(
                f"{path.name}: [network] {key} = {netd[key]!r} is not a list of arrays",
                f"write {key} as one nested list per layer, e.g. {key} = [[[0.5]]]",
            )
    b = [_floats(x, "biases", path) for x in biases] if biases is not None else None
    # the [network] fields are read by the one spec loader (netspec); this file adds its numbers
    if kind == "mlp":
        _need(netd, "activations", "network", path)
    elif kind == "spatial":
        _need(netd, "dim", "network", path)
    net = net_from_table(
        {**netd, "bias": bias}, f"{path.name}: [network]", defaults={"kind": "mlp", "loss": "sse_half"}, extra=_CLAIMS_NETWORK_KEYS
    )
    params = (
        Params(W=[_floats(w, "weights", path) for w in _need(netd, "weights", "network", path)], b=b)
        if not net.spatial
        else Params(
            Z=[_floats(z, "coordinates", path) for z in _need(netd, "coordinates", "network", path)],
            b=b,
            theta=_theta(netd, net, path),
        )
    )
    X = np.atleast_2d(_floats(_need(datad, "x", "data", path), "x", path))
    Y = np.atleast_2d(_floats(_need(datad, "y", "data", path), "y", path))
    claims = []
    seen = set()
    for i, c in enumerate(raw_claims):
        c = _table(c, f"claim {i + 1}", path, _CLAIM_KEYS)
        cid = str(c.get("id", f"claim-{i + 1}"))
        if cid in seen:
            raise SpecError(f"{path.name}: claim id {cid!r} appears twice", "give every claim its own id")
        seen.add(cid)
        q = _need(c, "quantity", f"claim {cid}", path)
        if q not in WORKED_QUANTITIES:
            raise SpecError(f"{path.name}: claim {cid!r} has unknown quantity {q!r}", f"use one of {', '.join(WORKED_QUANTITIES)}")
        if q not in _NO_LAYER and "layer" not in c:
            raise SpecError(f"{path.name}: claim {cid!r} ({q}) needs a layer", "add layer = <the document's layer number>")
        layer = _integer(c["layer"], f"claim {cid!r} layer", path, 0) if "layer" in c else None
        index = None
        if "index" in c:
            if not isinstance(c["index"], list):
                raise SpecError(
                    f"{path.name}: claim {cid!r} index = {c['index']!r} is not a list",
                    "write index = [i] or [i, j], counted from 0",
                )
            index = tuple(_integer(v, f"claim {cid!r} index", path, 0) for v in c["index"])
        tol = c.get("tolerance")
        if tol is not None:
            tol = _number(tol, f"claim {cid!r} tolerance", path, minimum=0)
        claims.append(
            WorkedClaim(
                cid,
                q,
                _need(c, "value", f"claim {cid}", path),
                layer,
                index,
                str(c.get("where", "")),
                str(c.get("text", "")),
                str(c.get("note", "")),
                tol,
            )
        )
    if any(c.quantity.endswith("+") for c in claims) and lr is None:
        raise SpecError(f"{path.name}: update claims need a learning rate", "add learning_rate = ... to [data]")
    return WorkedFile(
        path=path,
        doc_id=str(doc.get("id", path.stem)),
        title=str(doc.get("title", path.stem)),
        source=str(doc.get("source", "")),
        net=net,
        params=params,
        X=X,
        Y=Y,
        input_layer=input_layer,
        learning_rate=lr,
        rounding_allowance=allowance,
        tolerance=doc_tol,
        claims=claims,
        note=str(doc.get("note", "")),
        meta=doc,
    )
