"""Code generation for a `derive.symbolic.program.Program`: `lambdify_program` prints one assignment per live
node (templates through `derive.lambdify`, i.e. SymPy's printers with ``cse=True``) and compiles the
lines in chunks of `_CHUNK` (CPython's compiler is superlinear in function length) through the same
door (`derive.lambdify.compile_function`). Exact coefficients become float literals (numpy target) or
mpmath fractions (mpmath target) only in the generated code (`derive.lambdify.number_source`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

from derive.errors import SpecError
from derive.lambdify import PROGRAM_BACKENDS, compile_function, number_source, number_value, program_namespace

if TYPE_CHECKING:
    from derive.symbolic.program import Program

__all__ = ["lambdify_program", "TARGETS"]

TARGETS = PROGRAM_BACKENDS  # ("numpy", "mpmath", "arb")
_CHUNK = 3000  # lines per generated function: CPython's compiler is superlinear in function length


class _ProgramFunction(Protocol):
    """What `lambdify_program` returns: the compiled program plus its generated source."""

    source: str
    n_lines: int

    def __call__(self, *values: Any) -> list[Any]: ...


def _line(prog: Program, n: str, target: str, tnames: dict) -> str:
    kind, data = prog.nodes[n]
    if kind == "tmpl":
        t, args = data
        return f"{tnames[id(t)]}({', '.join(args)})"
    out = []
    for c, fs in data:
        body = "*".join(fs)
        if not fs:
            out.append(number_source(c, target))
        elif c == 1:
            out.append(body)
        elif c == -1:
            out.append("-" + body)
        else:
            out.append(f"{number_source(c, target)}*{body}")
    return " + ".join(out).replace("+ -", "- ")


def lambdify_program(prog: Program, inputs: list[str], outputs: list, target: str = "numpy") -> Callable:
    """Compile the nodes needed for `outputs` into a Python callable f(*inputs) -> list of values.

    Args:
        prog: the program. inputs: leaf names, in call order. outputs: names or exact constants
            (None = 0). target: "numpy" (float64 scalars) or "mpmath" (call under mpmath.workdps).

    The generated source of each chunk is kept in ``f.source`` (as lambdify keeps its own).
    """
    if target not in TARGETS:
        raise SpecError(f"unknown target {target!r}", f"use one of {', '.join(TARGETS)}")
    need = prog.live(outputs)
    tnames: dict[int, str] = {}
    ns: dict[str, Any] = program_namespace(target)  # globals of the generated code
    for n in need:
        kind, data = prog.nodes[n]
        if kind == "tmpl" and id(data[0]) not in tnames:
            tnames[id(data[0])] = f"_T{len(tnames)}"
            ns[tnames[id(data[0])]] = data[0].fn(target)
    lines = [(n, _line(prog, n, target, tnames)) for n in need]
    chunks = [lines[i : i + _CHUNK] for i in range(0, len(lines), _CHUNK)] or [[]]
    where = {n: ci for ci, ch in enumerate(chunks) for n, _ in ch}
    for n in inputs:
        where[n] = -1
    last_use: dict[str, int] = {}
    for ci, ch in enumerate(chunks):
        for n, _ in ch:
            for a in prog.args_of(n):
                last_use[a] = max(last_use.get(a, -1), ci)
    out_names = [o for o in outputs if isinstance(o, str)]
    for o in out_names:
        last_use[o] = len(chunks)
    funcs, sources = [], []
    for ci, ch in enumerate(chunks):
        used = sorted({a for n, _ in ch for a in prog.args_of(n) if where.get(a, -1) < ci}, key=lambda a: (where.get(a, -1), a))
        made = [n for n, _ in ch if last_use.get(n, -1) > ci]
        src = (
            f"def _chunk{ci}({', '.join(used)}):\n"
            + "".join(f"    {n} = {rhs}\n" for n, rhs in ch)
            + f"    return ({', '.join(made)}{',' if made else ''})\n"
        )
        funcs.append((compile_function(src, f"_chunk{ci}", ns, f"<derive.symbolic.program chunk {ci}>"), used, made))
        sources.append(src)
    const = number_value(target)

    def run(*values):
        env = dict(zip(inputs, values))
        for f, used, made in funcs:
            env.update(zip(made, f(*[env[a] for a in used])))
        return [env[o] if isinstance(o, str) else const(o) for o in outputs]

    program = cast(_ProgramFunction, run)  # a plain function carrying two attributes
    program.source = "\n".join(sources)
    program.n_lines = len(lines)
    return program
