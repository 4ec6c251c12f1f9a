"""Reading a network spec: the ``[network]``, ``[[network.penalty]]`` and ``[data]`` tables checked
strictly (known keys, their types, the kind's keys, kernel and penalty parameters given and used) into
a `derive.Net` / `derive.MLP` and `DataOptions`; `load_net` reads a spec file into a `NetSpec`. The
format is in derivcheck/netspec.py's docstring; every bad input is a one-line `derive.SpecError`."""

from __future__ import annotations

import ast
import difflib
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from derive import SpecError  # light: the rest of derive (SymPy) loads where a spec is read

if TYPE_CHECKING:
    from derive import MLP, Net

__all__ = ["NetSpec", "DataOptions", "NETWORK_KEYS", "DATA_KEYS", "load_net", "read_toml", "net_from_table", "data_from_table"]

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
    "loss_reduction": (str, '"mean" (over B K), "batch" (mean over the batch, sum over the outputs) or "sum"'),
    "relu_grad_at_zero": ((int, float), "a number in [0, 1]: 0, 0.5 or 1"),
}
KIND_KEYS = {"spatial": {"dim", "kernel", "kernel_params", "hidden", "output", "amplitudes"}, "mlp": {"activations"}}
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
    from derivcheck.guard import read_input  # a regular file under 1 MiB: a FIFO or /dev/zero is refused

    path = Path(path)
    try:
        return tomllib.loads(read_input(path, "spec file"))
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
    from derive import MLP, Net

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
                f"{where}: key '{key}' does not apply to kind = \"{kind}\"",
                f'remove it or set kind = "{"mlp" if kind == "spatial" else "spatial"}"',
            )
    if "widths" not in t:
        raise SpecError(f"{where} has no 'widths'", "add widths = [N_1, ..., N_L], e.g. widths = [3, 4, 2]")
    args = {k: v for k, v in t.items() if k in NETWORK_KEYS and k not in other}
    args["widths"] = tuple(args["widths"])
    if "penalty" in args:  # both kinds: an MLP's rho is in w alone (derive.MLP refuses r)
        args["penalties"] = _penalties(args.pop("penalty"), where)
    if kind == "mlp":
        if isinstance(args.get("activations"), list):
            args["activations"] = tuple(args["activations"])
        return _check_bce(_build(MLP, args, where), where)
    params = args.get("kernel_params", {})
    for k, v in params.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise SpecError(f"{where} kernel_params.{k} = {v!r} is not a number", f"write {k} = 0.7 (a number)")
    _check_params_given(args.get("kernel", "gaussian"), params, where)
    net = _build(Net, args, where)
    _check_params_used(net, where)
    return _check_bce(net, where)


def _check_bce(net, where: str):
    """bce takes log(a) and log(1 - a): an output outside (0, 1) (identity, tanh ...) makes the loss complex."""
    out = net.output if net.spatial else (net.activations[-1] if net.activations else "identity")
    if str(net.loss).split("(")[0] == "bce" and str(out).split("(")[0] != "sigmoid":
        raise SpecError(
            f"{where}: loss bce with output activation {out!r}: bce takes log(a) and log(1 - a), complex outside (0, 1)",
            'use a sigmoid output (output = "sigmoid") or another loss such as mse',
        )
    return net


def _penalties(tables: list, where: str) -> tuple:
    """The ``[[network.penalty]]`` tables, strictly (keys, types, parameters named and used)."""
    from derive.primitives.penalty import penalty

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
        used = {s.name for s in p.d["rho"].free_symbols} | formula_names(p.rho)
        for k in t.get("params", {}):
            if k not in used:
                raise SpecError(f"{at}: parameter {k} is not used by rho {p.rho!r}", f"remove {k} or use it in rho")
        out.append(p)
    return tuple(out)


def formula_names(formula: str) -> set[str]:
    """Names in a formula's syntax tree (nothing is evaluated)."""
    try:
        tree = ast.parse(formula.strip(), mode="eval")
    except (SyntaxError, ValueError):
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _check_params_given(formula: str, params: dict, where: str) -> None:
    """A formula naming a parameter without a value: say how to give it (derive.parse would only call
    the name unknown). Names are collected from the syntax tree, nothing is evaluated."""
    from derive import KERNELS
    from derive.parse import FUNCTIONS, free_names

    if formula in KERNELS:
        return
    if formula.strip().isidentifier() and formula.strip() != "r":  # a bare name is a kernel's name, misspelt
        close = difflib.get_close_matches(formula.strip(), list(KERNELS), n=1)
        raise SpecError(
            f"{where}: unknown kernel {formula.strip()!r}" + (f" (did you mean '{close[0]}'?)" if close else ""),
            f"use one of {', '.join(KERNELS)} or a formula in r such as exp(-r**2/s**2)",
        )
    # the names used as values (not calls, not pi or E); a formula that does not parse gives none here
    missing = [n for n in free_names(formula, ("r", *params)) if n not in FUNCTIONS]
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


#: the largest |value| of a [data] range: coordinates beyond it would overflow r^2 in float64 (1e154)
RANGE_LIMIT = 1e100


def _range(value: list, key: str, where: str) -> tuple[float, float]:
    if (
        len(value) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        or not value[0] < value[1]
    ):
        raise SpecError(f"{where} {key} = {value!r} is not a range", f"write {key} = [low, high] with low < high")
    if not all(abs(v) <= RANGE_LIMIT for v in value):  # also inf and nan; distances of 1e100 still square in float64
        raise SpecError(
            f"{where} {key} = {value!r} is not within +-{RANGE_LIMIT:g}",
            f"write {key} = [low, high] with finite |low|, |high| <= {RANGE_LIMIT:g}",
        )
    return float(value[0]), float(value[1])


def data_from_table(table: dict, where: str = "[data]") -> DataOptions:
    """`DataOptions` from a ``[data]`` table (strict, like `net_from_table`)."""
    if not isinstance(table, dict):
        raise SpecError(f"{where} is {table!r}, not a table", "write a [data] table with batch = 3 ... below it (or leave it out)")
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in DATA_KEYS:
            raise _unknown(key, DATA_KEYS, where)
        value = _typed(value, key, DATA_KEYS, where)
        out[key] = _range(value, key, where) if key.endswith("_range") else value
    if out.get("batch", 1) < 1:
        raise SpecError(f"{where} batch = {out['batch']} must be >= 1", "use batch = 3, for example")
    return DataOptions(**out)


PRESET = "preset:"


def preset_path(name: str) -> Path:
    """The installed preset `name` (presets/NAME.toml, shipped in the package): `--net preset:NAME` works
    from any folder, after a plain pip install."""
    import importlib.resources

    folder = Path(str(importlib.resources.files("derivcheck") / "presets")).resolve()
    names = sorted(p.stem for p in folder.glob("*.toml"))
    if name not in names:
        raise SpecError(f"no preset named {name!r}", f"use one of {', '.join('preset:' + n for n in names)}")
    return folder / f"{name}.toml"


def load_net(path: str | Path) -> NetSpec:
    """Read a spec file (``[network]`` and optional ``[data]``; nothing else), or an installed preset
    given as ``preset:NAME``."""
    given = str(path)
    path = preset_path(given[len(PRESET) :]) if given.startswith(PRESET) else Path(path)
    data = read_toml(path)
    for key in data:
        if key not in ("network", "data"):
            raise _unknown(key, ("network", "data"), f"{path.name}: the top level")
    if not isinstance(data.get("network"), dict):
        raise SpecError(f"{path.name} has no [network] table", "add [network] with widths = [...] (see README)")
    net = net_from_table(data["network"], f"{path.name}: [network]")
    opts = data_from_table(data.get("data", {}), f"{path.name}: [data]")
    return NetSpec(net, opts, f"--net {shlex.quote(given if given.startswith(PRESET) else str(path))}")
