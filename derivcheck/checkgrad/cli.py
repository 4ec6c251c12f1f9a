"""`derivcheck check-grad FILE.py:FUNC --net NET.toml` and `derivcheck.check_grad(fn, net)`: judge a
user's own gradient code against the 50-digit ground truth.

Over drawn cases of the network (seeded NumPy draws) and adversarial ones (nearly coincident nodes
down to 1e-7, coincident nodes, saturation, ReLU kinks; numeric.draws), optionally over a family of
sizes, every quantity fn returns is compared with derive.symbolic.gradients(..., dps=50) by verify's
judge (derivcheck.checkgrad.compare: numeric.compare's tolerance table and rounding-noise floor). A
mismatch is reported with its entry, both values, the error and the tolerance, a diagnosis where one
fits (derivcheck.checkgrad.diagnose; the kernel derivative the code implies: derivcheck.checkgrad.kernel;
"error grows as nodes approach": derivcheck.checkgrad.shrink), hints (saturation, ReLU kink,
coincidence, batch size) beside it, a shrunk counterexample (fewer rows, nodes and layers when fn is
generic, the widest node separation that still fails, rounder numbers), the seed and a one-line
reproducing command: a `CheckResult` (derivcheck.checkgrad.result).

Exit codes: 0 agrees, 1 a counterexample, 2 bad input (bad path, import error, fn raises, wrong shapes).
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from derivcheck.checkgrad.diagnose import diagnose
from derivcheck.checkgrad.kernel import kernel_reading
from derivcheck.checkgrad.result import CheckResult
from derivcheck.checkgrad.shrink import Judge, separation_sweep, shrink_case
from derivcheck.netspec import DataOptions, NetSpec, load_net, net_flags, net_from_args
from derivcheck.tables import wrap_lines
from derivcheck.worker import FnFailed, LoadError, Supervised
from derive import MLP, Net, SpecError
from derive.symbolic.balls import Undecided
from numeric.draws import adversarial_cases, draw_case
from numeric.validate import check_constants, check_net_memory

__all__ = ["check_grad", "run", "parse_family"]


def parse_family(family: Any) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """``"L=2..4,N=1..4"`` (or ``{"L": (2, 4), "N": (1, 4)}``) -> ((2, 4), (1, 4)): layer counts and widths."""
    if family is None:
        return None
    if isinstance(family, str):
        found = dict(re.findall(r"([LN])=(\d+\.\.\d+)", family))
        if set(found) != {"L", "N"} or re.sub(r"[LN]=\d+\.\.\d+", "", family).strip(", ") != "":
            raise SpecError(f"family {family!r} is not L=lo..hi,N=lo..hi", "write e.g. --family L=2..4,N=1..4")
        family = {k: tuple(int(x) for x in v.split("..")) for k, v in found.items()}
    (l0, l1), (n0, n1) = family["L"], family["N"]
    if not (2 <= l0 <= l1 and 1 <= n0 <= n1):
        raise SpecError(f"family L={l0}..{l1}, N={n0}..{n1} is empty or too small", "use L >= 2 and N >= 1, low <= high")
    return (l0, l1), (n0, n1)


def _family_nets(net: Net | MLP, fam, rng: np.random.Generator, count: int) -> list[Net | MLP]:
    (l0, l1), (n0, n1) = fam
    out: list[Net | MLP] = []
    for _ in range(count):
        L = int(rng.integers(l0, l1 + 1))
        widths = tuple(int(rng.integers(n0, n1 + 1)) for _ in range(L))
        if net.spatial:
            out.append(replace(net, widths=widths))
        else:
            acts = net.activations
            out.append(replace(net, widths=widths, activations=tuple([acts[0]] * (L - 2) + [acts[-1]])))
    return out


_KIND_HINTS = {
    "relu_kink": "fails only where a ReLU pre-activation is exactly 0: derivcheck takes relu'(0) = 0 (as torch)",
    "saturated": "fails only with saturated activations (|h| ~ 30): write f' without cancellation (tanh' = 1/cosh^2)",
    "coincident": "fails only at coincident nodes (r = 0): use phi(0) = lim g'(r)/r (= g''(0)) there",
}
_HINT_SAID = {"relu_kink": "relu'(0)", "saturated": "saturat", "coincident": "coincident nodes"}  # a diagnosis that says it already


def check_grad(
    fn: Callable,
    net: Net | MLP | NetSpec | str | Path,
    *,
    cases: int = 20,
    seed: int | None = None,
    torch: bool = False,
    family: Any = None,
    dtype=np.float64,
    data: DataOptions | None = None,
    adversarial: bool = True,
    shrink: bool = True,
    target: str | None = None,
    flags: str | None = None,
) -> CheckResult:
    """Judge a user's gradient function against the 50-digit ground truth.

    Args:
        fn: ``fn(Z, X, Y)`` (``b=`` with biases, ``theta=`` with free amplitudes; ``fn(W, X, Y, b=...)``
            for an MLP) returning a list (dZ per layer; dW for an MLP) or a dict with any of loss, dZ,
            dW, dtheta, db, dX (see derivcheck.checkgrad.userfn).
        net: a `Net`/`MLP`, a loaded `NetSpec`, or the path of a spec file.
        cases: drawn cases (plus the adversarial ones, unless ``adversarial=False``), at [data] batch; one
            more drawn case at B = 1 (B = 2 when the batch is 1), so both sides of B = 1 are judged.
        seed: seeds every draw (printed, and in the reproducing command); default: the spec's [data] seed, else 0.
        torch: pass torch tensors instead of NumPy arrays. dtype: np.float64 or np.float32 arrays (and
            that dtype's tolerance). family: ``"L=2..4,N=1..4"``: also nets of those sizes (fn generic).
        data: drawing options (the spec file's [data]); shrink: shrink the counterexample.
        target, flags: how the reproducing command names fn and the net (derived when omitted).

    Returns:
        `CheckResult` (truthy iff fn agrees; ``.raise_if_failed()``, ``.report()``).

    Raises:
        SpecError: fn raises, returns wrong shapes or unknown quantities; a bad net or spec file.
    """
    if isinstance(net, (str, Path)):
        net = load_net(net)
    if isinstance(net, NetSpec):
        data, flags, net = data or net.data, flags or net.flags, net.net
    data = data or DataOptions()
    check_net_memory(net, max(data.batch, 2))  # refused in one line before fn is called or a case drawn (B >= 2 is drawn too)
    seed = data.seed if seed is None else seed
    fam = parse_family(family)
    if isinstance(cases, bool) or not isinstance(cases, int) or cases < 1:
        raise SpecError(f"cases = {cases!r}", "draw at least one case (cases=20)")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpecError(f"seed {seed!r} is negative or not an integer", "pass --seed with an integer >= 0")
    from derivcheck.guard import check_checkgrad  # the time budget, before fn is called or a case drawn

    check_checkgrad(net.widths, data.batch, cases, fam)
    target = target or _target_name(fn)
    dt = np.dtype(dtype).name
    if dt not in ("float64", "float32"):
        raise SpecError(f"dtype {dt} is not supported", "use np.float64 or np.float32")
    check_constants(net, dtype)  # --float32 with s = 1e-20: no float32 code can compute exp(-r**2/s**2), refused
    command = _command(target, flags or net_flags(net), seed, cases, torch, dt, family if fam else None)
    rng = np.random.default_rng(seed)
    draw: dict[str, Any] = dict(
        batch=data.batch, coordinate_range=data.coordinate_range, input_range=data.input_range, weight_range=data.weight_range
    )
    todo = [draw_case(net, rng, **draw) for _ in range(cases)]
    if adversarial:
        todo += adversarial_cases(net, rng, **draw)
    for other in _family_nets(net, fam, rng, 4) if fam else []:
        todo += [draw_case(other, rng, **draw) for _ in range(max(2, cases // 4))]
        todo += adversarial_cases(other, rng, **draw) if adversarial else []
    # B = 1 and B >= 2 whatever [data] batch says: code wrong at one of them only (a squeezed batch axis,
    # a mean over the batch where the sum belongs) passed every case of the other (issue 22)
    todo.append(draw_case(net, rng, **{**draw, "batch": 1 if data.batch >= 2 else 2}))
    judge = Judge(fn, torch, dtype)
    by_batch: dict[int, list[int]] = {}  # B -> [failed, run]
    result = CheckResult(True, target, net, seed, command, dt)
    first: tuple | None = None
    for case in todo:
        case = judge.prepare(case)
        try:
            got, truth, found = judge.run(case)
        except Undecided as exc:  # no precision decides the exact value (a kink inside its ball): not judged
            result.undecided.append(f"{case.describe()}: {exc.what}")
            continue
        kind, rows = result.by_kind.setdefault(case.kind, [0, 0]), by_batch.setdefault(case.batch, [0, 0])
        kind[1] += 1
        rows[1] += 1
        result.checked += 1
        if found:
            kind[0] += 1
            rows[0] += 1
            result.failed += 1
            first = first or (case, got, truth, found)
    if not result.checked:
        raise SpecError(
            f"no case could be judged: the exact value is undecided on all {len(result.undecided)} ({result.undecided[0]})",
            "draw other cases (--seed) or move the inputs off the kink",
        )
    if first is None:
        return result
    case, got, truth, found = first
    result.agrees, result.counterexample, result.findings = False, case, found
    result.diagnoses = diagnose(case, got, truth, found, dtype)
    if shrink:
        result.shrunk, result.shrunk_findings = shrink_case(judge, case, found)
    reading = _kernel_reading(judge, case, found, result.diagnoses)
    result.diagnoses += [reading] if reading else []
    if not result.diagnoses:
        grows = separation_sweep(judge, result.shrunk or case)
        if grows is None and result.shrunk is not None:
            grows = separation_sweep(judge, case)
        result.diagnoses += [grows] if grows else []
    # a hint (saturation, ReLU kink, coincidence, batch size) is shown beside a diagnosis, never replaced by
    # it: "dW: off by a constant factor 1.0249" without "fails only with saturated activations" hid the cause
    failing = {k for k, (f, _) in result.by_kind.items() if f}
    hint = _KIND_HINTS.get(next(iter(failing))) if len(failing) == 1 else None
    if hint and not any(_HINT_SAID[next(iter(failing))] in d for d in result.diagnoses):
        result.diagnoses.append(hint)
    if not any("per-example" in d for d in result.diagnoses):  # a per-example dX is off at B > 1 only: said
        result.diagnoses += [h for h in [_batch_hint(by_batch)] if h]
    return result


def _kernel_reading(judge: Judge, case, found, diagnoses: list[str]) -> str | None:
    """Where dZ is wrong and dW (and dtheta) right: the g'(r) (or d rho/dr) the code implies, named
    (derivcheck.checkgrad.kernel); beside a dZ diagnosis only when that one says just a factor or a sign."""
    wrong = {f.quantity for f in found}
    if "dZ" not in wrong or wrong & {"dW", "dtheta"}:
        return None
    on_dz = [d for d in diagnoses if "dZ" in d.split(":", 1)[0].split(", ")]
    if any("constant factor" not in d and "sign flipped" not in d for d in on_dz):
        return None
    return kernel_reading(judge, case)


def _batch_hint(by_batch: dict[int, list[int]]) -> str | None:
    """Where every case at B = 1 fails and every case at B >= 2 agrees, or the other way round: the
    mistake is in how the batch axis is handled, said with the batch sizes seen."""
    one = by_batch.get(1, [0, 0])
    many = [0, 0]
    for B, (f, n) in by_batch.items():
        if B > 1:
            many = [many[0] + f, many[1] + n]
    sizes = ", ".join(str(B) for B in sorted(by_batch) if B > 1)
    if one[1] and many[1] and one[0] == one[1] and many[0] == 0:
        return (
            f"fails only at batch size B = 1 ({one[0]}/{one[1]} cases; agrees at B = {sizes}): the batch axis is "
            "lost when it has length 1 (a squeeze, or len() of a squeezed array)"
        )
    if one[1] and many[1] and one[0] == 0 and many[0] == many[1]:
        return (
            f"fails only at batch sizes B > 1 (B = {sizes}, {many[0]}/{many[1]} cases; agrees at B = 1): every "
            "row must enter, its contribution summed over the batch (not a mean over it, not row 0 only)"
        )
    return None


def _command(target: str, flags: str, seed: int, cases: int, torch: bool, dtype: str, family: Any) -> str:
    """The one line that reproduces the run (a Python call when fn is not importable by name)."""
    if target.startswith("<"):  # a closure or a lambda
        return (
            f"derivcheck.check_grad({target[1:-1]}, net, cases={cases}, seed={seed}"
            f"{', torch=True' if torch else ''}{', dtype=np.float32' if dtype == 'float32' else ''}"
            f"{f', family={family!r}' if family else ''})"
        )
    fam = parse_family(family)
    parts = [
        "derivcheck check-grad",
        target,
        flags,
        f"--seed {seed}",
        f"--cases {cases}" if cases != 20 else "",
        "--torch" if torch else "",
        "--float32" if dtype == "float32" else "",
        f"--family L={fam[0][0]}..{fam[0][1]},N={fam[1][0]}..{fam[1][1]}" if fam else "",
    ]
    return " ".join(x for x in parts if x)


def _target_name(fn: Callable) -> str:
    try:
        path = inspect.getsourcefile(fn)
    except TypeError:
        path = None
    name = getattr(fn, "__qualname__", getattr(fn, "__name__", "fn"))
    if path is None or "<" in name or "." in name:
        return f"<{name}>"
    rel = os.path.relpath(path)
    return f"{rel if not rel.startswith('..') else path}:{name}"


def run(args: argparse.Namespace) -> int:
    spec = net_from_args(args)
    if not (isinstance(args.fn_timeout, float | int) and 0 < args.fn_timeout < float("inf")):
        raise SpecError(f"--fn-timeout {args.fn_timeout!r} must be a positive number of seconds", "pass --fn-timeout 60")
    try:
        # the user's code runs in a child process: its exit, abort, hang, threads or memory cannot end or
        # stall this one (derivcheck.worker)
        with Supervised(args.target, timeout=args.fn_timeout, torch=args.torch) as fn:
            result = check_grad(
                fn,
                spec,
                cases=args.cases,
                seed=args.seed,
                torch=args.torch,
                family=args.family,
                dtype=np.float32 if args.float32 else np.float64,
                shrink=not args.no_shrink,
                target=args.target,
            )
    except LoadError as exc:
        raise SpecError(exc.what, exc.fix) from None
    except FnFailed as exc:  # loading the module hung or ended its process
        raise SpecError(exc.what, exc.fix) from None
    print(wrap_lines(result.report()))  # folded to the terminal; the API keeps whole lines
    return 0 if result.agrees else 1
