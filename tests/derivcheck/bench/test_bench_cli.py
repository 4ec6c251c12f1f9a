"""The bench's command line reads like every verb's: `python -m derivcheck.bench --help` says what
`derivcheck bench --help` says (it printed the module's developer docstring), and the table keeps each
target id whole on one line at 80 columns (rich folded 'truth.arb_vs_mpmath.w4-4-2' at its hyphens)."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import REPO


def test_module_help_is_the_verbs_help():
    out = subprocess.run([sys.executable, "-m", "derivcheck.bench", "--help"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0
    assert "measure the performance targets and write bench/results.json" in out.stdout
    assert "add_arguments" not in out.stdout


def test_target_ids_stay_whole_in_the_table():
    from rich.console import Console

    from derivcheck.bench.targets import record, table

    rid = "truth.arb_vs_mpmath.w64-64-10"
    results = {"config": {"quick": False}, "wall_s": 1.0, "targets": [record(rid, "x", 2.0, "x", ">= 1", True, arb_s=0.5)]}
    console = Console(width=80, record=True, color_system=None)
    console.print(table(results))
    assert rid in console.export_text()
