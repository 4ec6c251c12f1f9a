"""Refuse what cannot finish, before starting: counts, run-time estimates and input files.

Every count on a command line (``--cases``, ``--drawn``, ``--examples``, ``--iters``, ``--family``
ranges) must be a positive integer, and a run is estimated from its counts, widths, depth and batch
before any case is drawn: over the time budget (`MAX_SECONDS`, 30 minutes; ``--max-seconds`` raises
it) it is refused with one line naming the estimate and the flag. Memory is the engines' gate
(`numeric.validate.check_net_memory`, ``DERIVCHECK_MEMORY_GB``), run here too. Input files (specs,
claims, user code) are read only when they are regular files under a size cap (`read_input`): a FIFO
would block, /dev/zero would never end.

The time model: one case costs ``A * P**a * L**b * (B / 3)`` seconds plus a fixed part, P the number
of weights (sum of N_l N_(l-1)), L the number of layers, B the batch. Calibrated on this project's
development machine (2 CPU cores, Python 3.12, 50-digit ground truth) with the real commands, 10-16
cases each (seconds per case, the 2.5 s start-up removed):

    verify --widths W --dim 2 --cases 5 (10 cases, all engines, H v included):
        2,3,1 0.05 | 4,8,8,2 0.33 | 8,16,16,4 1.9 | 16,32,32,8 18.4 | 2,3x8,1 (L = 10) 0.87
    check-grad examples/my_grad.py:grad --net examples/my_net.toml --widths W, --cases 21 minus --cases 1
    (the ball ground truth by layers, derive.symbolic.layered; its own model, `case_seconds`):
        8,16,16,4 0.029 | 16,32,32,8 0.028 | 2,3x8,1 (L = 10) 0.012 | 256,128,10 0.43
    train --widths W --iters 10 (manual engine, 128 examples): seconds per gradient-or-HVP evaluation
        4,8,8,2 about 0.05 (start-up bound) | 32,64,64,8 0.06-0.1 | 128,256,256,8 0.055 (B = 128: 4.3e-9 per
        weight and example; `TRAIN_EVAL` takes 1e-8, plus `TRAIN_LAYER` per layer)

The estimate is meant to be within a factor of about 3; the budget is generous so that only runs of
hours (--cases 10^9, widths 3000,3000, 500 layers) are refused, never an ordinary one.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from derive import SpecError

__all__ = [
    "MAX_SECONDS",
    "INPUT_BYTES",
    "set_max_seconds",
    "max_seconds",
    "check_count",
    "case_seconds",
    "check_seconds",
    "check_cases",
    "check_train",
    "read_input",
    "check_input",
]

#: seconds a run may be estimated to take before it is refused (``--max-seconds`` overrides it)
MAX_SECONDS = 30 * 60.0
_BUDGET = [MAX_SECONDS]
#: bytes of a spec, claims or user-code file (a larger one is not a hand-written input)
INPUT_BYTES = 1 << 20

# seconds per case: (A, a, b, fixed) of A * P**a * L**b * (B/3) + fixed (calibration in the docstring)
MODELS = {
    "verify": (2.15e-5, 1.5, 1.75, 0.03),
    "check-grad": (1e-5, 1.0, 0.0, 0.01),
}
#: check-grad also pays per layer (the ground truth's per-layer ball work: 500 layers of width 2 take 0.17 s)
CHECKGRAD_LAYER = 5e-4
#: bytes of the ball ground truth per weight (derive.symbolic.layered: ~900 measured at 256-128-10 and
#: 784-128-10; arb balls at 50 digits, a dozen N_l x N_(l-1) object arrays alive at the peak)
TRUTH_BYTES_PER_WEIGHT = 1500
#: train: seconds per gradient or HVP evaluation per weight per example (manual engine, float64), and per layer
TRAIN_EVAL = 1e-8
TRAIN_LAYER = 2e-4


def set_max_seconds(seconds: float | None) -> None:
    """Set the time budget (the CLI's ``--max-seconds``); None keeps the default."""
    if seconds is None:
        _BUDGET[0] = MAX_SECONDS
        return
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < 1e9:
        raise SpecError(f"--max-seconds {seconds!r} is out of range", "pass --max-seconds with a number of seconds in (0, 1e9)")
    _BUDGET[0] = float(seconds)


def max_seconds() -> float:
    """The time budget now (seconds)."""
    return _BUDGET[0]


def check_count(value, flag: str, minimum: int = 1) -> int:
    """`value` as a count >= `minimum`; anything else is one line naming `flag`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SpecError(f"{flag} {value!r} must be an integer >= {minimum}", f"pass {flag} N with N >= {minimum}")
    return value


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    if seconds < 2 * 86400 * 365:
        return f"{seconds / 86400:.3g} days"
    return f"{seconds / (86400 * 365):.2g} years"


def case_seconds(verb: str, widths: Sequence[int], batch: int = 3) -> float:
    """Estimated seconds of one case of `verb` ("verify" or "check-grad") on a net of these widths.

    check-grad's ground truth (balls by layers, derive.symbolic.layered) costs per weight whatever the
    batch (the kernel layer is evaluated once per case) plus per layer; verify's engines grow with B."""
    A, a, b, fixed = MODELS[verb]
    n = [int(w) for w in widths]
    pairs = min(sum(x * y for x, y in zip(n[1:], n[:-1])), 10**300)  # a float, also for widths of 10^200
    if verb == "check-grad":
        return A * float(pairs) ** a * (1 + max(int(batch), 1) / 64) + CHECKGRAD_LAYER * len(n) + fixed
    return A * float(pairs) ** a * float(len(n)) ** b * max(int(batch), 1) / 3 + fixed


def check_seconds(seconds: float, what: str, fix: str) -> float:
    """Refuse a run estimated over the budget: "WHAT is estimated at 3.2 h, over the 30 min budget"."""
    limit = max_seconds()
    if not seconds <= limit:  # also NaN
        raise SpecError(
            f"{what} is estimated at {_duration(seconds)}, over the {_duration(limit)} budget",
            f"{fix}, or raise the budget with --max-seconds {_round_up(seconds)}"
            if seconds < 1e9
            else f"{fix} (no budget covers it)",
        )
    return seconds


def _round_up(seconds: float) -> str:
    return f"{int(10 ** math.ceil(math.log10(max(seconds, 1.0))))}"


def check_cases(verb: str, nets: Sequence[tuple[Sequence[int], int]], what: str, fix: str, batch: int = 3) -> float:
    """Refuse `verb` over the budget: `nets` lists (widths, number of cases), each case of `batch` rows."""
    total = sum(count * case_seconds(verb, widths, batch) for widths, count in nets)
    return check_seconds(total, what, fix)


def check_train(widths: Sequence[int], examples: int, evaluations: int, what: str) -> float:
    """Refuse a training run whose `evaluations` gradients and HVPs over `examples` rows would exceed the budget."""
    n = [int(w) for w in widths]
    pairs = min(sum(x * y for x, y in zip(n[1:], n[:-1])) + sum(n), 10**300)
    per = TRAIN_EVAL * float(pairs) * max(int(examples), 1) + TRAIN_LAYER * len(n)
    return check_seconds(
        per * evaluations,
        f"{what} ({evaluations} evaluations on {_size(n)})",
        "pass fewer --iters, a smaller --budget or smaller widths",
    )


#: seconds of one drawn library case of `verify` (small nets; calibrated: verify --quick --drawn 10 minus --drawn 0)
DRAWN_CASE = 0.5
#: the adversarial cases added to the drawn ones (numeric.draws.adversarial_cases: at most 6)
ADVERSARIAL = 6
#: claims: seconds per drawn network per formula-claims file (the bundled catalog, 4 files, --cases 60: 96 s)
CLAIMS_CASE = 0.4
#: audit-kernel: seconds per engines_agree example (25 examples: about 2 s)
AUDIT_EXAMPLE = 0.1


def _size(widths: Sequence[int], batch: int | None = None) -> str:
    n = [int(w) for w in widths]
    shown = ",".join(map(str, n)) if len(n) <= 8 else f"{n[0]},{n[1]},...,{n[-1]} ({len(n)} layers)"
    return f"widths {shown}" + (f", batch {batch}" if batch is not None and batch != 3 else "")


def check_verify(widths: Sequence[int] | None, batch: int, cases: int, drawn: int = 0) -> float:
    """`verify`: a network's --cases (plus the adversarial ones), or the library matrix's --drawn nets."""
    if widths is None:
        check_count(drawn, "--drawn", 0)
        return check_seconds(drawn * DRAWN_CASE, f"verify of {drawn} drawn nets", "pass fewer --drawn")
    check_count(cases, "--cases")
    return check_cases(
        "verify",
        [(widths, cases + ADVERSARIAL)],
        f"verify of {cases} cases on {_size(widths, batch)}",
        "pass fewer --cases or smaller widths",
        batch,
    )


def check_checkgrad(widths: Sequence[int], batch: int, cases: int, family=None) -> float:
    """`check-grad`: --cases on the net (plus adversarial ones), and with --family 4 nets of up to its
    largest size (``((l0, l1), (n0, n1))``), max(2, cases // 4) cases each (derivcheck.checkgrad.cli)."""
    check_count(cases, "--cases")
    nets = [(widths, cases + ADVERSARIAL)]
    what = f"check-grad of {cases} cases on {_size(widths, batch)}"
    if family is not None:
        (_, l1), (_, n1) = family
        nets.append(((min(n1, 10**9),) * min(l1, 10**6), 4 * (max(2, cases // 4) + ADVERSARIAL)))
        what += f" and --family nets up to L = {l1}, N = {n1}"
    seconds = check_cases("check-grad", nets, what, "pass fewer --cases, smaller widths or a smaller --family", batch)
    _check_truth_memory(nets)
    return seconds


def _check_truth_memory(nets: Sequence[tuple[Sequence[int], int]]) -> None:
    """Refuse a net whose ball ground truth would exceed the memory budget (numeric.validate's)."""
    from numeric.validate import memory_limit

    limit = memory_limit()
    for widths, _ in nets:
        n = [min(int(w), 10**30) for w in widths[: 10**6]]
        need = TRUTH_BYTES_PER_WEIGHT * float(sum(x * y for x, y in zip(n[1:], n[:-1])))
        if need > limit:
            raise SpecError(
                f"the exact ground truth of {_size(n)} needs about {need / 2**30:.3g} GiB, over the "
                f"{limit / 2**30:.0f} GiB memory budget",
                "use smaller widths (or set DERIVCHECK_MEMORY_GB)",
            )


def check_claims(cases: int, formula_files: int) -> float:
    """`claims`: --cases networks drawn for each formula claim of `formula_files` .py files."""
    check_count(cases, "--cases")
    return check_seconds(
        cases * max(formula_files, 1) * CLAIMS_CASE,
        f"claims with --cases {cases} over {formula_files} formula files",
        "pass fewer --cases",
    )


def check_audit(examples: int) -> float:
    """`audit-kernel`: --examples drawn engine comparisons."""
    check_count(examples, "--examples")
    return check_seconds(examples * AUDIT_EXAMPLE, f"audit-kernel with --examples {examples}", "pass fewer --examples")


def check_input(path: str | Path, what: str = "file", limit: int = INPUT_BYTES) -> Path:
    """`path` if it is a regular file of at most `limit` bytes; else one line (a FIFO would block the
    read, /dev/zero never end, a folder is not a file)."""
    p = Path(path)
    try:
        st = os.stat(p)
    except OSError as exc:
        raise SpecError(f"cannot read {p}: {exc.strerror}", "check the path") from None
    if stat.S_ISDIR(st.st_mode):
        raise SpecError(f"{what} {str(p)!r} is a folder, not a file", "name the file inside it")
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a FIFO"
            if stat.S_ISFIFO(st.st_mode)
            else "a device"
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "not a regular file"
        )
        raise SpecError(f"{what} {str(p)!r} is {kind}, not a regular file", "save the input to a file and pass its path")
    if st.st_size > limit:
        raise SpecError(
            f"{what} {str(p)!r} has {st.st_size} bytes, over the {limit // 1024} KiB limit of an input file",
            "pass the hand-written spec, not a data file",
        )
    return p


def read_input(path: str | Path, what: str = "file", limit: int = INPUT_BYTES) -> str:
    """The UTF-8 text of `path`, read only when `check_input` accepts it (at most `limit` bytes read)."""
    p = check_input(path, what, limit)
    try:
        with open(p, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise SpecError(f"cannot read {what} {str(p)!r}: {exc.strerror}", "check the path and its permissions") from None
    if len(data) > limit:
        raise SpecError(f"{what} {str(p)!r} grew over the {limit // 1024} KiB limit while read", "pass a finished file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{p.name} is not UTF-8 text (byte {exc.start})", "save it as UTF-8") from None
