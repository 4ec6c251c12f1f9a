"""The network as command-line flags: `add_net_arguments` (one definition for every verb), `NET_FLAGS`
(their option strings), `formula_argv` (formulas starting with "-" kept as values) and
`net_from_args` (the ``--net`` file's fields overridden by the flags given, read by derivcheck.netspec.read)."""

from __future__ import annotations

import argparse
import re
from typing import Any

from derivcheck.netspec.read import KIND_KEYS, DataOptions, NetSpec, formula_names, load_net, net_from_table
from derivcheck.netspec.write import net_flags, net_table
from derive import SpecError

__all__ = ["add_net_arguments", "formula_argv", "NET_FLAGS", "net_given", "net_from_args"]


def _widths(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers, e.g. 3,5,2") from None


def parse_name_value(text: str) -> tuple[str, float]:
    """`NAME=VALUE` -> (name, float): the argparse type of --param (argparse.ArgumentTypeError if malformed)."""
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
    g.add_argument(
        "--net",
        metavar="FILE",
        help="TOML spec with [network] (and optional [data]), or preset:NAME (note, notebook_tanh_penalty, serrn_wiring, bimt)",
    )
    g.add_argument("--kind", choices=("spatial", "mlp"), help="spatial (default) or mlp")
    g.add_argument("--widths", type=_widths, metavar="N1,N2,...", help="layer widths, e.g. 3,5,2")
    g.add_argument("--dim", type=int, metavar="D", help="spatial dimension")
    g.add_argument("--kernel", metavar="G", help="library kernel or formula in r, e.g. 'exp(-r**2/s**2)'")
    g.add_argument("--param", type=parse_name_value, action="append", metavar="NAME=VALUE", help="kernel parameter (repeatable)")
    g.add_argument("--hidden", help="activation of layers 2..L-1 (spatial)")
    g.add_argument("--output", help="activation of layer L (spatial)")
    g.add_argument("--activations", help="comma-separated activations of layers 2..L (mlp); one name: every layer")
    g.add_argument("--loss", help="mse, mse_half, sse, sse_half, mae, huber(delta=..), bce, softmax_ce")
    g.add_argument(
        "--loss-reduction",
        choices=("mean", "batch", "sum"),
        help="divide the summed loss by B K (mean), B (batch: mean over the batch, sum over the outputs) or 1 (sum); "
        "default: the loss's own",
    )
    g.add_argument(
        "--relu-grad-at-zero",
        type=float,
        metavar="S",
        help="ReLU'(0) = S in [0, 1] (0: torch's; 1: code written with x >= 0); leaky ReLU'(0) = alpha + S (1 - alpha)",
    )
    g.add_argument("--bias", action=argparse.BooleanOptionalAction, default=None, help="free biases b_l")
    g.add_argument("--amplitudes", choices=("none", "free"), help="free: W = theta * g(r), theta trainable")
    g.add_argument(
        "--penalty", action="append", metavar="RHO", help="penalty formula in r and w; mlp: in w alone, e.g. 'w**2' (repeatable)"
    )
    g.add_argument(
        "--penalty-scale",
        type=float,
        action="append",
        metavar="S",
        help="its scale (default 1); one for every --penalty, or one each",
    )
    g.add_argument(
        "--penalty-reduce", choices=("sum", "mean"), action="append", help="sum (default) or mean; one for all, or one each"
    )
    g.add_argument(
        "--penalty-layers", type=_widths, action="append", metavar="L1,L2", help="layers it covers; one for all, or one each"
    )
    g.add_argument("--penalty-param", type=parse_name_value, action="append", metavar="NAME=VALUE", help="penalty parameter")


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
    "--loss-reduction",
    "--relu-grad-at-zero",
    "--bias",
    "--no-bias",
    "--amplitudes",
    "--penalty",
    "--penalty-scale",
    "--penalty-reduce",
    "--penalty-param",
    "--penalty-layers",
)
_FLAG_KEYS = (
    "kind",
    "widths",
    "dim",
    "kernel",
    "hidden",
    "output",
    "activations",
    "loss",
    "loss_reduction",
    "relu_grad_at_zero",
    "bias",
    "amplitudes",
)


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
        used = formula_names(rho)
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
    if isinstance(given.get("activations"), str):  # one name applies to every layer, as MLP(activations="tanh")
        names = [a.strip() for a in str(given["activations"]).split(",")]
        given["activations"] = names[0] if len(names) == 1 else names
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
