"""Terminal output of every verb: rich tables that fit the terminal and stay complete when piped, and the
one ``--json PATH`` option (``-`` for stdout).

Width is rich's own (the terminal's, else ``COLUMNS``, else 80): columns wrap instead of being cut with an
ellipsis, a column is never narrower than its longest word (an id, a number or an engine name stays whole:
"2.7/T2.2/10" split as "2.7/T2.2/1" / "0" reads as another claim), and piped output carries no colour codes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["console", "show", "fit", "progress", "add_json_argument", "write_json", "wrap_lines"]


def console(file=None, stderr: bool = False):
    """A rich Console on `file` (default stdout, or stderr) at the terminal's width. A reader that went
    away (`derivcheck ... | head`) raises BrokenPipeError to the command line (exit 141, quiet), where
    rich on its own would exit 1, the code of a failed check."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError

    return _Console(file=file, stderr=stderr and file is None, highlight=False)


def show(table, file=None, *, con=None) -> None:
    """Print `table` complete (`fit` to the console's width) on `con`, or a new console on stdout or
    `file`; lines carry no trailing spaces (rich pads every cell to the column's width)."""
    con = con or console(file)
    fit(table, con.width)
    with con.capture() as cap:
        con.print(table)
    con.file.write("".join(line.rstrip() + "\n" for line in cap.get().splitlines()))
    con.file.flush()


#: the longest word a column keeps whole: a longer one (a path, a long message) folds rather than
#: pushing the table past 80 columns
LONGEST_WORD = 24


def fit(table, width: int = 80):
    """`table` with columns that wrap at spaces and keep their words whole. Each column gets at least
    its longest word (header included, at most `LONGEST_WORD`; a no_wrap column its longest line) and
    the room left goes to the columns that lack least first (each then fits on one line), so an id or a number is
    never cut while a prose column wraps; only a longer word folds. When the words alone are wider
    than `width`, the cell padding goes first (one space still separates the columns), then the
    column of most words (a note, a message) folds its longest words. rich's own
    narrowing shrinks the widest column first, numbers included, and crops what still does not fit.
    Returns `table`."""
    from rich.text import Text

    def plain(cell) -> str:
        return cell.plain if isinstance(cell, Text) else Text.from_markup(cell).plain if isinstance(cell, str) else ""

    cols = table.columns
    lo, hi, words = [], [], []
    for col in cols:
        cells = [plain(c) for c in (col.header, *col.cells)]
        longest_line = max([len(line) for c in cells for line in c.splitlines()] + [col.min_width or 0, 1])
        words.append(-1 if col.no_wrap else sum(len(c.split()) for c in cells))
        if col.no_wrap:
            lo.append(longest_line)
        else:
            col.overflow = "fold"
            lo.append(max([min(len(w), LONGEST_WORD) for c in cells for w in c.split()] + [col.min_width or 0, 1]))
        hi.append(longest_line)

    def frame() -> int:  # columns' rules and padding
        left, right = table.padding[3], table.padding[1]
        rules = (len(cols) - 1 + 2 * table.show_edge) if table.box else 0
        return rules + len(cols) * (left + right) - (0 if table.pad_edge else left + right)

    if sum(hi) + frame() <= width:
        return table  # everything fits on one line per cell
    if sum(lo) + frame() > width:
        table.padding = (0, 0) if table.box else (0, 1, 0, 0)
    prose = max(range(len(cols)), key=lambda i: words[i])  # the column of most words: its long ones fold
    if words[prose] >= 0:
        lo[prose] = max(8, min(lo[prose], width - frame() - (sum(lo) - lo[prose])))
    room = width - frame() - sum(lo)
    if room < 0:
        return table  # even the ids and numbers alone do not fit: rich folds
    lack = [h - w for h, w in zip(hi, lo)]
    for i in sorted(range(len(cols)), key=lambda i: lack[i]):  # the least lacking first: one line each
        give = min(lack[i], room)
        room -= give
        if not cols[i].no_wrap:
            cols[i].width = lo[i] + give
    return table


def progress(*columns, quiet: bool = False):
    """A transient rich progress bar on stderr, shown only on a terminal: piped, rich would leave an
    empty line where the bar was (and a log file wants no bar)."""
    from rich.progress import Progress

    err = console(stderr=True)
    return Progress(*columns, console=err, transient=True, disable=quiet or not err.is_terminal)


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
    from derivcheck.provenance import atomic_write_json

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
