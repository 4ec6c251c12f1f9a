"""One network spec for every verb: a TOML file's ``[network]`` (and ``[data]``) table, or the same
fields as command-line flags, read by one loader into a `derive.Net` / `derive.MLP` plus drawing options.

A spec file::

    [network]
    kind = "spatial"              # or "mlp"
    widths = [3, 4, 2]            # N_1..N_L
    dim = 2                       # D (spatial)
    kernel = "exp(-r**2/s**2)"    # a library name or a formula in r (derive/parse.py grammar)
    kernel_params = { s = 0.7 }
    hidden = "tanh"               # spatial: activation of layers 2..L-1
    output = "identity"           # spatial: activation of layer L
    activations = ["tanh", "sigmoid"]   # mlp: one per layer 2..L (instead of hidden/output)
    loss = "mse"
    bias = false

    [data]                        # optional: how cases are drawn
    batch = 3
    coordinate_range = [-1.5, 1.5]
    input_range = [-2.0, 2.0]
    weight_range = [-1.5, 1.5]    # mlp weights
    seed = 0

The flags (`add_net_arguments`): ``--net FILE`` and/or ``--widths 3,5,2 --dim 2 --kernel F --param s=0.7
--hidden tanh --output identity --loss mse --bias`` (flags override the file's fields).
Every bad input is a `derive.SpecError` of one line: what, where, and the fix.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from derive import KERNELS, MLP, Net, SpecError
from derive.parse import FUNCTIONS

__all__ = ["NetSpec", "DataOptions", "NETWORK_KEYS", "DATA_KEYS", "load_net", "read_toml", "net_from_table",
           "data_from_table", "add_net_arguments", "net_from_args", "net_flags"]

# key -> (type, description); kind-specific keys are checked against KIND_KEYS.
NETWORK_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "kind": (str, '"spatial" or "mlp"'), "widths": (list, "a list of integers, e.g. [3, 4, 2]"),
    "dim": (int, "an integer >= 1"), "kernel": (str, "a library kernel name or a formula in r"),
    "kernel_params": (dict, "a table of numbers, e.g. { s = 0.7 }"), "hidden": (str, "an activation name"),
    "output": (str, "an activation name"), "activations": ((list, str), "a list of activation names"),
    "loss": (str, "a loss name"), "bias": (bool, "true or false"),
}
KIND_KEYS = {"spatial": {"dim", "kernel", "kernel_params", "hidden", "output"}, "mlp": {"activations"}}
DATA_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "batch": (int, "an integer >= 1"), "coordinate_range": (list, "[low, high]"), "input_range": (list, "[low, high]"),
    "weight_range": (list, "[low, high]"), "seed": (int, "an integer"),
}


@dataclass(frozen=True)
class DataOptions:
    """How cases are drawn for a network: batch size B, uniform ranges, and the seed."""

    batch: int = 3
    coordinate_range: tuple[float, float] = (-1.5, 1.5)
    input_range: tuple[float, float] = (-2.0, 2.0)
    weight_range: tuple[float, float] = (-1.5, 1.5)
    seed: int = 0


@dataclass(frozen=True)
class NetSpec:
    """A loaded spec: the network, the drawing options, and the flags that rebuild it (`net_flags`)."""

    net: Net | MLP
    data: DataOptions = field(default_factory=DataOptions)
    flags: str = ""


def _unknown(key: str, allowed, where: str) -> SpecError:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"use one of {', '.join(sorted(allowed))}"
    return SpecError(f"{where} has unknown key '{key}'", hint)


def _typed(value: Any, key: str, kinds: dict, where: str) -> Any:
    want, text = kinds[key]
    ok = isinstance(value, want) and not (want is int and isinstance(value, bool))
    if not ok:
        raise SpecError(f"{where} {key} = {value!r} has the wrong type", f"write {key} as {text}")
    return value


def read_toml(path: str | Path) -> dict:
    """Parse a TOML file; unreadable files and syntax errors are one-line `SpecError`s."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror}", "check the path") from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path.name} is not UTF-8 text (byte {exc.start})", "save it as UTF-8") from None
    except RecursionError:
        raise SpecError(f"{path.name} nests arrays or tables too deeply", "flatten the nesting") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path.name} is not valid TOML ({exc})", "fix the syntax at that line") from None


def net_from_table(table: dict, where: str = "[network]", *, defaults: dict | None = None,
                   extra: tuple[str, ...] = ()) -> Net | MLP:
    """Build a `Net` or `MLP` from a ``[network]`` table, strictly.

    Args:
        table: the table (TOML types). where: names it in messages (e.g. ``"net.toml: [network]"``).
        defaults: values for absent keys (claims files default to kind "mlp", loss "sse_half").
        extra: further keys the caller reads itself (claims files: weights, coordinates ...), ignored here.

    Raises:
        SpecError: unknown key, wrong type, a key of the other kind, or what `Net`/`MLP` refuse.
    """
    t = {**(defaults or {}), **table}
    for key in t:
        if key not in NETWORK_KEYS and key not in extra:
            raise _unknown(key, [*NETWORK_KEYS, *extra], where)
    t = {k: _typed(v, k, NETWORK_KEYS, where) if k in NETWORK_KEYS else v for k, v in t.items()}
    kind = t.pop("kind", "spatial")
    if kind not in KIND_KEYS:
        raise SpecError(f"{where} kind = {kind!r} is unknown", 'use kind = "spatial" or kind = "mlp"')
    other = KIND_KEYS["mlp" if kind == "spatial" else "spatial"]
    for key in t:
        if key in other and key not in (defaults or {}):
            raise SpecError(f"{where} key '{key}' does not apply to kind = \"{kind}\"",
                            f"remove it or set kind = \"{'mlp' if kind == 'spatial' else 'spatial'}\"")
    if "widths" not in t:
        raise SpecError(f"{where} has no 'widths'", "add widths = [N_1, ..., N_L], e.g. widths = [3, 4, 2]")
    args = {k: v for k, v in t.items() if k in NETWORK_KEYS and k not in other}
    args["widths"] = tuple(args["widths"])
    if kind == "mlp":
        if isinstance(args.get("activations"), list):
            args["activations"] = tuple(args["activations"])
        return _build(MLP, args, where)
    params = args.get("kernel_params", {})
    for k, v in params.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise SpecError(f"{where} kernel_params.{k} = {v!r} is not a number", f"write {k} = 0.7 (a number)")
    _check_params_given(args.get("kernel", "gaussian"), params, where)
    net = _build(Net, args, where)
    _check_params_used(net, where)
    return net


def _check_params_given(formula: str, params: dict, where: str) -> None:
    """A formula naming a parameter without a value: say how to give it (derive.parse would only call
    the name unknown). Names are collected from the syntax tree, nothing is evaluated."""
    if formula in KERNELS:
        return
    try:
        tree = ast.parse(formula.strip(), mode="eval")
    except (SyntaxError, ValueError):
        return  # derive.parse reports it
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - called - set(FUNCTIONS) - {"r", "pi", "E"}
    missing = sorted(n for n in names - set(params) if "_" not in n)  # derive.parse refuses underscores itself
    if missing:
        m = missing[0]
        raise SpecError(f"{where}: kernel {formula!r} needs a value for {m}",
                        f"pass --param {m}=VALUE (in a spec file: kernel_params = {{ {m} = ... }})")


def _build(cls, args: dict, where: str):
    try:
        return cls(**args)
    except SpecError as exc:  # name the file (or the flags) in the message
        raise SpecError(f"{where}: {exc}") from None


def _check_params_used(net: Net, where: str) -> None:
    """A formula kernel given a parameter it does not use is an error (a typo would pass silently)."""
    k = net.g
    used = {s.name for s in k.expr.free_symbols} - {"r"}
    pairs = cast(tuple[tuple[str, float], ...], net.kernel_params)  # Net normalises them to sorted pairs
    for name, _ in pairs:
        if name not in used:
            raise SpecError(f"{where}: parameter {name} is not used by kernel {net.kernel!r}",
                            f"remove {name} or use it in the formula (its parameters: {', '.join(sorted(used)) or 'none'})")


def _range(value: list, key: str, where: str) -> tuple[float, float]:
    if len(value) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value) \
            or not value[0] < value[1]:
        raise SpecError(f"{where} {key} = {value!r} is not a range", f"write {key} = [low, high] with low < high")
    return float(value[0]), float(value[1])


def data_from_table(table: dict, where: str = "[data]") -> DataOptions:
    """`DataOptions` from a ``[data]`` table (strict, like `net_from_table`)."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in DATA_KEYS:
            raise _unknown(key, DATA_KEYS, where)
        value = _typed(value, key, DATA_KEYS, where)
        out[key] = _range(value, key, where) if key.endswith("_range") else value
    if out.get("batch", 1) < 1:
        raise SpecError(f"{where} batch = {out['batch']} must be >= 1", "use batch = 3, for example")
    return DataOptions(**out)


def load_net(path: str | Path) -> NetSpec:
    """Read a spec file (``[network]`` and optional ``[data]``; nothing else)."""
    path = Path(path)
    data = read_toml(path)
    for key in data:
        if key not in ("network", "data"):
            raise _unknown(key, ("network", "data"), f"{path.name}: the top level")
    if not isinstance(data.get("network"), dict):
        raise SpecError(f"{path.name} has no [network] table", "add [network] with widths = [...] (see README)")
    net = net_from_table(data["network"], f"{path.name}: [network]")
    opts = data_from_table(data.get("data", {}), f"{path.name}: [data]")
    return NetSpec(net, opts, f"--net {shlex.quote(str(path))}")


# -- flags ------------------------------------------------------------------------------------------
def _widths(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers, e.g. 3,5,2") from None


def _param(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep or not name.replace("_", "a").isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE, e.g. s=0.7")
    try:
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"value of {name} is not a number: {value!r}") from None


def add_net_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the network flags (one definition for every verb); read them back with `net_from_args`."""
    g = parser.add_argument_group("network (a spec file, flags, or both: flags override the file)")
    g.add_argument("--net", metavar="FILE", help="TOML spec with [network] (and optional [data])")
    g.add_argument("--kind", choices=("spatial", "mlp"), help="spatial (default) or mlp")
    g.add_argument("--widths", type=_widths, metavar="N1,N2,...", help="layer widths, e.g. 3,5,2")
    g.add_argument("--dim", type=int, metavar="D", help="spatial dimension")
    g.add_argument("--kernel", metavar="G", help="library kernel or formula in r (a leading minus: --kernel=-2*r)")
    g.add_argument("--param", type=_param, action="append", metavar="NAME=VALUE", help="kernel parameter (repeatable)")
    g.add_argument("--hidden", help="activation of layers 2..L-1 (spatial)")
    g.add_argument("--output", help="activation of layer L (spatial)")
    g.add_argument("--activations", help="comma-separated activations of layers 2..L (mlp)")
    g.add_argument("--loss", help="mse, sse_half, mae, huber(delta=..), bce, softmax_ce")
    g.add_argument("--bias", action=argparse.BooleanOptionalAction, default=None, help="free biases b_l")


_FLAG_KEYS = ("kind", "widths", "dim", "kernel", "hidden", "output", "activations", "loss", "bias")


def net_from_args(args: argparse.Namespace, default: NetSpec | None = None) -> NetSpec:
    """The network of parsed flags: the ``--net`` file's fields, overridden by any flag given."""
    spec = load_net(args.net) if getattr(args, "net", None) else None
    table = {k: v for k, v in (_table(spec.net) if spec else {}).items()}
    given: dict[str, Any] = {k: getattr(args, k) for k in _FLAG_KEYS if getattr(args, k, None) is not None}
    if isinstance(given.get("activations"), str):
        given["activations"] = str(given["activations"]).split(",")
    if getattr(args, "param", None):
        given["kernel_params"] = {**table.get("kernel_params", {}), **dict(args.param)}
    if spec is None and not given:
        if default is not None:
            return default
        raise SpecError("no network given", "pass --net FILE or flags such as --widths 3,5,2 --dim 2 --kernel gaussian")
    table.update(given)
    other = KIND_KEYS["spatial" if table.get("kind") == "mlp" else "mlp"]
    for k in other - set(given):  # a --kind flag replaces the file's kind: drop the file's keys of the other kind
        table.pop(k, None)
    net = net_from_table(table, "the flags" if spec is None else f"{args.net} with the flags")
    flags = net_flags(net, spec.flags if spec is not None and not given else None)
    return NetSpec(net, spec.data if spec else DataOptions(), flags)


def _table(net: Net | MLP) -> dict:
    """The ``[network]`` table of a net (what `net_from_table` reads back)."""
    if not net.spatial:
        return {"kind": "mlp", "widths": list(net.widths), "activations": list(net.activations), "loss": net.loss,
                "bias": net.bias}
    return {"kind": "spatial", "widths": list(net.widths), "dim": net.dim, "kernel": net.kernel,
            "kernel_params": dict(net.kernel_params), "hidden": net.hidden, "output": net.output, "loss": net.loss,
            "bias": net.bias}


def net_flags(net: Net | MLP, file_flags: str | None = None) -> str:
    """Command-line flags that rebuild `net` (``--net FILE`` when it came unchanged from a file)."""
    if file_flags:
        return file_flags
    t = _table(net)
    out = [f"--kind {t['kind']}"] if t["kind"] == "mlp" else []
    out.append("--widths " + ",".join(map(str, t["widths"])))
    if net.spatial:
        out += [f"--dim {t['dim']}", f"--kernel={shlex.quote(t['kernel'])}"]
        out += [f"--param {k}={v:g}" for k, v in t["kernel_params"].items()]
        out += [f"--hidden {shlex.quote(t['hidden'])}", f"--output {shlex.quote(t['output'])}"]
    else:
        out.append("--activations " + shlex.quote(",".join(t["activations"])))
    out += [f"--loss {shlex.quote(t['loss'])}", "--bias" if t["bias"] else "--no-bias"]
    return " ".join(out)

