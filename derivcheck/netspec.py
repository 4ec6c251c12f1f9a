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
    amplitudes = "none"           # spatial: or "free" (W = theta * g(r), theta trainable)

    [[network.penalty]]           # spatial, any number: J = L + scale * reduce over edges of rho(r, w)
    rho = "(s*(r-q0))**2"         # a formula in r and w (derive/parse.py grammar)
    params = { s = 6.1, q0 = 0.433 }
    scale = 1.0
    reduce = "sum"                # or "mean"
    layers = [2, 3]               # optional: the layers l whose edges (l-1 to l) it covers (default all)

    [data]                        # optional: how cases are drawn
    batch = 3
    coordinate_range = [-1.5, 1.5]
    input_range = [-2.0, 2.0]
    weight_range = [-1.5, 1.5]    # mlp weights
    seed = 0

The flags (`add_net_arguments`): ``--net FILE`` and/or ``--widths 3,5,2 --dim 2 --kernel F --param s=0.7
--hidden tanh --output identity --loss mse --bias --amplitudes free --penalty 'abs(w)*r' --penalty-scale 0.01``
(flags override the file's fields; the --penalty* flags are repeatable, a single --penalty-scale,
--penalty-reduce or --penalty-layers applies to every --penalty, --penalty-param to those that use it).
Every bad input is a `derive.SpecError` of one line: what, where, and the fix.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from derive import KERNELS, MLP, Net, SpecError
from derive.parse import FUNCTIONS

__all__ = [
    "NetSpec",
    "DataOptions",
    "NETWORK_KEYS",
    "DATA_KEYS",
    "load_net",
    "read_toml",
    "net_from_table",
    "data_from_table",
    "add_net_arguments",
    "net_from_args",
    "net_flags",
    "net_given",
    "formula_argv",
    "net_table",
    "NET_FLAGS",
]

# key -> (type, description); kind-specific keys are checked against KIND_KEYS.
NETWORK_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "kind": (str, '"spatial" or "mlp"'),
    "widths": (list, "a list of integers, e.g. [3, 4, 2]"),
    "dim": (int, "an integer >= 1"),
    "kernel": (str, "a library kernel name or a formula in r"),
    "kernel_params": (dict, "a table of numbers, e.g. { s = 0.7 }"),
    "hidden": (str, "an activation name"),
    "output": (str, "an activation name"),
    "activations": ((list, str), "a list of activation names"),
    "loss": (str, "a loss name"),
    "bias": (bool, "true or false"),
    "amplitudes": (str, '"none" or "free"'),
    "penalty": (list, '[[network.penalty]] tables with rho = "..."'),
}
KIND_KEYS = {"spatial": {"dim", "kernel", "kernel_params", "hidden", "output", "amplitudes", "penalty"}, "mlp": {"activations"}}
PENALTY_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "rho": (str, 'a formula in r and w, e.g. "abs(w)*r"'),
    "params": (dict, "a table of numbers, e.g. { s = 6.1 }"),
    "scale": ((int, float), "a number"),
    "reduce": (str, '"sum" or "mean"'),
    "layers": (list, "a list of layers, e.g. [2, 3]"),
}
DATA_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "batch": (int, "an integer >= 1"),
    "coordinate_range": (list, "[low, high]"),
    "input_range": (list, "[low, high]"),
    "weight_range": (list, "[low, high]"),
    "seed": (int, "an integer"),
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


def net_from_table(
    table: dict, where: str = "[network]", *, defaults: dict | None = None, extra: tuple[str, ...] = ()
) -> Net | MLP:
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
            raise SpecError(
                f"{where} key '{key}' does not apply to kind = \"{kind}\"",
                f'remove it or set kind = "{"mlp" if kind == "spatial" else "spatial"}"',
            )
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
    if "penalty" in args:
        args["penalties"] = _penalties(args.pop("penalty"), where)
    net = _build(Net, args, where)
    _check_params_used(net, where)
    return net


def _penalties(tables: list, where: str) -> tuple:
    """The ``[[network.penalty]]`` tables, strictly (keys, types, parameters named and used)."""
    from derive.penalty import penalty

    out = []
    for n, t in enumerate(tables, start=1):
        at = f"{where} penalty {n}"
        if not isinstance(t, dict):
            raise SpecError(f"{at} is not a table", 'write [[network.penalty]] with rho = "..." below it')
        for key, value in t.items():
            if key not in PENALTY_KEYS:
                raise _unknown(key, PENALTY_KEYS, at)
            _typed(value, key, PENALTY_KEYS, at)
        if "rho" not in t:
            raise SpecError(f"{at} has no rho", 'add rho = "abs(w)*r" (a formula in r and w)')
        for k, v in t.get("params", {}).items():
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise SpecError(f"{at} params.{k} = {v!r} is not a number", f"write {k} = 0.5 (a number)")
        try:
            p = penalty(t)
        except SpecError as exc:
            raise SpecError(f"{at}: {exc}") from None
        used = {s.name for s in p.d["rho"].free_symbols} | _names(p.rho)
        for k in t.get("params", {}):
            if k not in used:
                raise SpecError(f"{at}: parameter {k} is not used by rho {p.rho!r}", f"remove {k} or use it in rho")
        out.append(p)
    return tuple(out)


def _names(formula: str) -> set[str]:
    """Names in a formula's syntax tree (nothing is evaluated)."""
    try:
        tree = ast.parse(formula.strip(), mode="eval")
    except (SyntaxError, ValueError):
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


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
    missing = sorted(names - set(params))
    if missing:
        m = missing[0]
        raise SpecError(
            f"{where}: kernel {formula!r} needs a value for {m}",
            f"pass --param {m}=VALUE (in a spec file: kernel_params = {{ {m} = ... }})",
        )


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
            raise SpecError(
                f"{where}: parameter {name} is not used by kernel {net.kernel!r}",
                f"remove {name} or use it in the formula (its parameters: {', '.join(sorted(used)) or 'none'})",
            )


def _range(value: list, key: str, where: str) -> tuple[float, float]:
    if (
        len(value) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        or not value[0] < value[1]
    ):
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
    name = name.strip()
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*", name):  # as derive.parse: w_max
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
    g.add_argument("--kernel", metavar="G", help="library kernel or formula in r, e.g. 'exp(-r**2/s**2)'")
    g.add_argument("--param", type=_param, action="append", metavar="NAME=VALUE", help="kernel parameter (repeatable)")
    g.add_argument("--hidden", help="activation of layers 2..L-1 (spatial)")
    g.add_argument("--output", help="activation of layer L (spatial)")
    g.add_argument("--activations", help="comma-separated activations of layers 2..L (mlp)")
    g.add_argument("--loss", help="mse, sse_half, mae, huber(delta=..), bce, softmax_ce")
    g.add_argument("--bias", action=argparse.BooleanOptionalAction, default=None, help="free biases b_l")
    g.add_argument("--amplitudes", choices=("none", "free"), help="free: W = theta * g(r), theta trainable")
    g.add_argument("--penalty", action="append", metavar="RHO", help="penalty formula in r and w (repeatable)")
    g.add_argument("--penalty-scale", type=float, action="append", metavar="S", help="its scale (default 1)")
    g.add_argument("--penalty-reduce", choices=("sum", "mean"), action="append", help="sum (default) or mean")
    g.add_argument("--penalty-layers", type=_widths, action="append", metavar="L1,L2", help="layers it covers")
    g.add_argument("--penalty-param", type=_param, action="append", metavar="NAME=VALUE", help="penalty parameter")


def formula_argv(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """`argv` with formulas that start with a minus sign kept as values: argparse would take
    ``--kernel '-2*tanh(3*(r-0.4))'`` or ``audit-kernel '-exp(-r)'`` for an unknown option. A word that
    starts with "-", is no option of `parser` and reads as a formula (it has a digit, an operator or a
    bracket, or is -r) joins the option before it (``--kernel=-2*...``) when that option takes a value,
    else it is marked as a positional by a leading space (argparse's own rule; the verb strips it)."""
    actions = parser._option_string_actions  # noqa: SLF001 - argparse has no public lookup
    out: list[str] = []
    for word in argv:
        name = word.split("=", 1)[0]
        formula = (
            word.startswith("-")
            and name not in actions
            and word != "--"
            and (word == "-r" or re.search(r"[0-9()*/+.]", word) is not None)
            and not re.fullmatch(r"--[A-Za-z][\w-]*(=.*)?", word)
        )
        if not formula:
            out.append(word)
        elif out and out[-1] in actions and actions[out[-1]].nargs != 0 and "=" not in out[-1]:
            out[-1] = f"{out[-1]}={word}"
        else:
            out.append(" " + word)
    return out


#: the option strings add_net_arguments defines
NET_FLAGS = (
    "--net",
    "--kind",
    "--widths",
    "--dim",
    "--kernel",
    "--param",
    "--hidden",
    "--output",
    "--activations",
    "--loss",
    "--bias",
    "--no-bias",
    "--amplitudes",
    "--penalty",
    "--penalty-scale",
    "--penalty-reduce",
    "--penalty-param",
    "--penalty-layers",
)
_FLAG_KEYS = ("kind", "widths", "dim", "kernel", "hidden", "output", "activations", "loss", "bias", "amplitudes")


def _flag_penalties(args: argparse.Namespace) -> list[dict] | None:
    """[[network.penalty]] tables from the --penalty* flags, or None without --penalty."""
    rhos = getattr(args, "penalty", None)
    if not rhos:
        for flag in ("penalty_scale", "penalty_reduce", "penalty_layers", "penalty_param"):
            if getattr(args, flag, None):
                raise SpecError(f"--{flag.replace('_', '-')} without --penalty", "add --penalty RHO (a formula in r and w)")
        return None
    per: dict[str, list] = {}
    for key in ("scale", "reduce", "layers"):
        vals = getattr(args, f"penalty_{key}", None) or []
        if len(vals) not in (0, 1, len(rhos)):
            raise SpecError(
                f"{len(vals)} --penalty-{key} flags for {len(rhos)} --penalty flags",
                f"give one --penalty-{key} for all, or one per --penalty",
            )
        per[key] = vals * len(rhos) if len(vals) == 1 else vals
    params = dict(getattr(args, "penalty_param", None) or [])
    out = []
    for n, rho in enumerate(rhos):
        t: dict[str, Any] = {"rho": rho}
        used = _names(rho)
        if params:
            t["params"] = {k: v for k, v in params.items() if k in used}
        for key in ("scale", "reduce", "layers"):
            if per[key]:
                t[key] = per[key][n]
        out.append(t)
    return out


def net_given(args: argparse.Namespace, ignore: tuple[str, ...] = ()) -> bool:
    """Whether any network flag (or ``--net``) was given, not counting the flags in `ignore`."""
    keys = ("net", "param", *_FLAG_KEYS)
    return any(getattr(args, k, None) not in (None, []) for k in keys if k not in ignore)


def net_from_args(args: argparse.Namespace, default: NetSpec | None = None, *, defaults: dict | None = None) -> NetSpec:
    """The network of parsed flags: the ``--net`` file's fields, overridden by any flag given.
    `defaults` (a ``[network]`` table) fills what neither gives (train: widths 4,8,8,2, D = 3)."""
    spec = load_net(args.net) if getattr(args, "net", None) else None
    table = {**(defaults or {}), **(net_table(spec.net) if spec else {})}
    given: dict[str, Any] = {k: getattr(args, k) for k in _FLAG_KEYS if getattr(args, k, None) is not None}
    if isinstance(given.get("activations"), str):
        given["activations"] = str(given["activations"]).split(",")
    if getattr(args, "param", None):
        given["kernel_params"] = {**table.get("kernel_params", {}), **dict(args.param)}
    pens = _flag_penalties(args)
    if pens is not None:
        given["penalty"] = pens
    if spec is None and not given and not defaults:
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


def net_table(net: Net | MLP) -> dict:
    """The ``[network]`` table of a net (what `net_from_table` reads back)."""
    if not net.spatial:
        return {"kind": "mlp", "widths": list(net.widths), "activations": list(net.activations), "loss": net.loss, "bias": net.bias}
    t = {
        "kind": "spatial",
        "widths": list(net.widths),
        "dim": net.dim,
        "kernel": net.kernel,
        "kernel_params": dict(net.kernel_params),
        "hidden": net.hidden,
        "output": net.output,
        "loss": net.loss,
        "bias": net.bias,
    }
    if net.free:
        t["amplitudes"] = "free"
    if net.penalties:
        t["penalty"] = [
            {"rho": p.rho, "params": dict(p.pairs), "scale": p.scale, "reduce": p.reduce}
            | ({} if p.layers is None else {"layers": list(p.layers)})
            for p in net.penalties
        ]
    return t


def net_flags(net: Net | MLP, file_flags: str | None = None) -> str:
    """Command-line flags that rebuild `net` (``--net FILE`` when it came unchanged from a file)."""
    if file_flags:
        return file_flags
    t = net_table(net)
    out = [f"--kind {t['kind']}"] if t["kind"] == "mlp" else []
    out.append("--widths " + ",".join(map(str, t["widths"])))
    if net.spatial:
        out += [f"--dim {t['dim']}", f"--kernel={shlex.quote(t['kernel'])}"]
        out += [f"--param {k}={v:g}" for k, v in t["kernel_params"].items()]
        out += [f"--hidden {shlex.quote(t['hidden'])}", f"--output {shlex.quote(t['output'])}"]
        if net.free:
            out.append("--amplitudes free")
        for p in t.get("penalty", []):
            out += [f"--penalty={shlex.quote(p['rho'])}", f"--penalty-scale {p['scale']!r}", f"--penalty-reduce {p['reduce']}"]
            out += [f"--penalty-param {k}={v!r}" for k, v in p["params"].items()]
            if any("layers" in q for q in t["penalty"]):  # one --penalty-layers per --penalty, or none
                out.append("--penalty-layers " + ",".join(map(str, p.get("layers", range(2, net.L + 1)))))
    else:
        out.append("--activations " + shlex.quote(",".join(t["activations"])))
    out += [f"--loss {shlex.quote(t['loss'])}", "--bias" if t["bias"] else "--no-bias"]
    return " ".join(out)
