"""`derivcheck audit-kernel EXPR`: the command line (arguments, output, exit codes).

``audit-kernel --penalty RHO [--penalty-param NAME=VALUE ...]`` without a kernel audits the penalty
rho(r, w) instead (`derivcheck.audit.penalty`); with a kernel, --penalty is part of its network.

Exit codes: 0 no check fails (warnings allowed; ``--strict`` makes a warning fail), 1 a check fails,
2 bad input (a `derive.SpecError`, printed on one line by the CLI).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from derivcheck.audit.core import audit
from derivcheck.audit.report import print_table, to_json, write_report
from derivcheck.netspec import net_from_args, net_from_table, net_given
from derivcheck.provenance import atomic_write_json, provenance
from derivcheck.tables import write_json
from derive import Net, SpecError
from numeric.validate import check_net_memory

__all__ = ["parse_params", "run"]


def parse_params(items) -> dict[str, float]:
    """["s=0.5", ...] -> {"s": 0.5}; a malformed item is a SpecError (names may hold underscores: w_max)."""
    from derivcheck.netspec.flags import parse_name_value

    out: dict[str, float] = {}
    for item in items or ():
        try:
            name, value = parse_name_value(str(item).strip())
        except argparse.ArgumentTypeError as exc:
            raise SpecError(f"bad --param: {exc}", "write --param NAME=VALUE, e.g. --param s=0.5") from None
        out[name] = value
    return out


def _kernel_and_net(args: argparse.Namespace) -> tuple[str, dict[str, float], Net | None]:
    """The audited kernel (EXPR, --kernel or the --net file's) with its parameters, and the user's
    network when one is given (engines_agree then runs on that architecture)."""
    expr = args.expr.strip() if args.expr else None
    if expr and args.kernel:
        raise SpecError(f"two kernels given ({expr!r} and --kernel {args.kernel!r})", "give the kernel once")
    args.kernel = expr or args.kernel
    if net_given(args, ignore=("kernel", "param")):
        net = net_from_args(args).net
        if not isinstance(net, Net):
            raise SpecError("audit-kernel audits the kernel of a spatial network", 'use kind = "spatial"')
        return net.kernel, dict(net.kernel_params), net
    if not args.kernel:
        raise SpecError("no kernel given", "pass a kernel, e.g. derivcheck audit-kernel gaussian")
    # the spec checks of every verb: a parameter without a value, or one the formula does not use
    net = net_from_table({"widths": [1, 1], "kernel": args.kernel, "kernel_params": dict(args.param or ())}, "the command line")
    assert isinstance(net, Net)  # a spatial table
    return args.kernel, dict(args.param or ()), None


_PENALTY_FLAGS = ("penalty", "penalty_param", "penalty_scale", "penalty_reduce", "penalty_layers")


def _penalty_alone(args: argparse.Namespace):
    """The penalty to audit when --penalty comes without a kernel (no EXPR, --kernel or network flags),
    else None (with a kernel, --penalty is part of the network whose kernel is audited)."""
    from derive.primitives.penalty import Penalty

    if not getattr(args, "penalty", None) or args.expr or args.kernel or net_given(args, ignore=_PENALTY_FLAGS):
        return None
    if len(args.penalty) > 1:
        raise SpecError(f"{len(args.penalty)} --penalty flags given", "audit one penalty at a time")
    if args.report:
        raise SpecError("--report is the kernel audit's (plots of g, g', phi)", "drop --report with --penalty")
    params = dict(args.penalty_param or ())
    p = Penalty(args.penalty[0].strip(), params)
    unused = sorted(k for k in params if not p.uses(k))
    if unused:
        raise SpecError(f"--penalty-param {unused[0]} is not used by {p.rho!r}", "drop it or name it in the formula")
    return p


def run(args: argparse.Namespace) -> int:
    from derivcheck.audit.penalty import audit_penalty
    from derive.step_limits import step_budget

    pen = _penalty_alone(args)
    if pen is not None:  # the penalty's own audit (derivcheck.audit.penalty), same table and JSON
        a = audit_penalty(pen, seed=args.seed, budget=2.5 * step_budget())
    else:
        kernel, params, net = _kernel_and_net(args)
        if net is not None:
            check_net_memory(net)  # engines_agree runs the net: what would not fit is one line
        from derivcheck.guard import check_audit  # --examples >= 1 and within the time budget

        check_audit(args.examples)
        # the exact checks share 2.5 steps' worth of SymPy time (10 s at the default 4 s per step)
        a = audit(kernel, params, seed=args.seed, examples=args.examples, net=net, budget=2.5 * step_budget())
    if args.json is not None:
        write_json(args.json, to_json(a))
    if args.json != "-":
        print_table(a)
    if args.report:
        out = Path(args.report)
        atomic_write_json(out / "audit.json", {**to_json(a), "provenance": provenance(args.seed)})
        tex, pdf = write_report(a, out, argv=getattr(args, "argv", None))
        print(f"report: {pdf or tex}", file=sys.stderr)
    if a.verdict in ("fail", "skipped") or (args.strict and a.verdict == "warn"):
        return 1
    return 0
