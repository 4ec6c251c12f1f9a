"""Terminal output of every verb: rich tables that fit the terminal and stay complete when piped, and the
one ``--json PATH`` option (``-`` for stdout).

Width is rich's own (the terminal's, else ``COLUMNS``, else 80): columns wrap (fold) instead of being cut
with an ellipsis, and piped output carries no colour codes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["console", "show", "add_json_argument", "write_json"]


def console(file=None, stderr: bool = False):
    """A rich Console on `file` (default stdout, or stderr) at the terminal's width."""
    from rich.console import Console

    return Console(file=file, stderr=stderr and file is None, highlight=False)


def show(table, file=None) -> None:
    """Print `table` complete: every column that may wrap folds rather than truncates."""
    for col in table.columns:
        if not col.no_wrap:
            col.overflow = "fold"
    console(file).print(table)


def add_json_argument(parser, what: str = "the results") -> None:
    """``--json PATH``: also write `what` as JSON to PATH; ``--json -`` (or a bare ``--json``) prints it on
    stdout instead of the table. The same option in every verb that writes JSON."""
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="PATH",
        help=f"write {what} as JSON to PATH ('-' or no PATH: to stdout, instead of the table)",
    )


def write_json(target: str | Path, doc: Any) -> Path | None:
    """`doc` as JSON to `target` (atomically) or to stdout for "-"; returns the path written (None: stdout)."""
    if str(target) == "-":
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
        return None
    from .provenance import atomic_write_json

    return atomic_write_json(Path(target), doc)


def wrap_lines(text: str, width: int | None = None) -> str:
    """Plain report text folded to the terminal's width (COLUMNS when piped, else 80): each long line
    breaks at spaces, its continuation indented under the line's first word. A `reproduce:` line
    stays whole, on a line of its own after the label: a command folded over two lines would not
    paste into a shell."""
    import shutil
    import textwrap

    width = width or shutil.get_terminal_size((80, 24)).columns
    out = []
    for line in text.splitlines():
        if len(line) <= width:
            out.append(line)
        elif line.lstrip().startswith("reproduce: "):
            lead = line[: len(line) - len(line.lstrip())]
            out += [lead + "reproduce:", lead + "  " + line.lstrip()[len("reproduce: ") :]]
        else:
            lead = line[: len(line) - len(line.lstrip())]
            out += textwrap.wrap(line, width, subsequent_indent=lead + "    ", break_long_words=False, break_on_hyphens=False)
    return "\n".join(out)
