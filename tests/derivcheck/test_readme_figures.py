"""scripts/readme_figures.py (`make readme`, issue 24): every figure the README states (times, cases, checks)
sits in a region the script generates; the regions of counts are what the code computes now; the measured
regions are the stored run's (its JSON), whose counts are the code's and which names its machine and date.
Timings are never asserted here: they come from the generator's run."""

import importlib.util
import json
import re

import pytest

from derivcheck import verify
from derivcheck.verify.args import DRAWN, DRAWN_QUICK
from tests.helpers import REPO

SCRIPT = REPO / "scripts" / "readme_figures.py"


@pytest.fixture(scope="module")
def rf():
    spec = importlib.util.spec_from_file_location("readme_figures", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def readme():
    return (REPO / "README.md").read_text()


def test_no_figure_outside_a_generated_region(rf, readme):
    assert rf.figures_outside(readme) == []


@pytest.mark.parametrize(
    "text,found",
    [
        ("answer at once (about 0.1 s): a verb", ["0.1 s"]),
        ("a run of 18 s at 16,32,32,8 and 393 days", ["18 s", "393 days"]),
        ("under 2 minutes on 2 cores; a minute or more on the catalog", ["2 minutes", "a minute or more"]),
        ("it is 3-5x faster; calls vary by up to 2x.", ["3-5x", "2x"]),
        (
            "360 cases, 7043 checks, 24 hypothesis-drawn nets, 20 seeded draws",
            ["360 cases", "7043 checks", "24 hypothesis-drawn nets", "20 seeded draws"],
        ),
        ("(6 x 7 x 8 = 336 nets)", ["6 x 7 x 8 = 336"]),
        ("12 ms per call", ["12 ms"]),
        # not figures: maths, a kernel parameter, a requirement, sizes
        ("-2 s^2 q0; r in [0, 1e4 s]; / 2h, h = eps^(1/3); target <= 1.15x; 8 GiB; widths 2048", []),
    ],
)
def test_what_counts_as_a_figure(rf, text, found):
    assert [m.group(0) for m in rf.FIGURE.finditer(text)] == found


def test_code_regions_are_what_the_code_computes_now(rf, readme):
    have = rf.regions(readme)
    code = rf.render_code(rf.code_figures())
    for name, text in code.items():
        assert have[name] == text, f"region {name!r} is not the code's now: run python scripts/readme_figures.py --render"
    full, quick = len(verify.matrix_cases(0)), len(verify.matrix_cases(0, quick=True))
    assert f"({full + DRAWN} cases; `--quick`: {quick} + {DRAWN_QUICK} = {quick + DRAWN_QUICK})" in have["matrix"]


def test_run_regions_are_the_stored_runs_and_its_counts_the_codes(rf, readme):
    run = json.loads(rf.JSON.read_text())
    assert run["schema"] == rf.SCHEMA
    have = rf.regions(readme)
    for name, text in rf.render_run(run).items():
        assert have[name] == text, f"region {name!r} is not the stored run's: run make readme (or its --render)"
    rows = run["rows"]
    full, quick = len(verify.matrix_cases(0)), len(verify.matrix_cases(0, quick=True))
    assert rows["verify"]["cases"] == full + DRAWN and rows["quick"]["cases"] == quick + DRAWN_QUICK
    assert rows["verify"]["checks"] > 0 and rows["verify"]["exit"] == 0 and rows["quick"]["exit"] == 0
    assert rows["grad"]["exit"] == 0 and rows["grad_buggy"]["exit"] == 1 and rows["usage"]["exit"] == 2
    # the machine and the date are stated where the figures are
    block = " ".join(have["run"].split())
    assert re.search(r"on \d{4}-\d\d-\d\d \d\d:\d\d UTC at commit \w+", block) and " CPUs" in block
    assert f"{full + DRAWN} cases" in block


def test_check_mode_agrees_with_the_readme(rf):
    assert rf.main(["--check"]) == 0


def test_rewrite_touches_only_the_regions_and_refuses_unmatched_markers(rf):
    text = "a <!-- figures:x -->old<!-- /figures --> b\n<!-- figures:y -->\nold\n<!-- /figures -->\nc"
    assert rf.rewrite(text, {"x": "1 s", "y": "\nnew\n"}) == (
        "a <!-- figures:x -->1 s<!-- /figures --> b\n<!-- figures:y -->\nnew\n<!-- /figures -->\nc"
    )
    assert rf.outside(text) == "a <!-- region --> b\n<!-- region -->\nc"
    with pytest.raises(rf.RegionError, match="missing \\['z'\\]"):
        rf.rewrite(text, {"x": "", "y": "", "z": ""})
    with pytest.raises(rf.RegionError, match="unknown \\['y'\\]"):
        rf.rewrite(text, {"x": ""})
    with pytest.raises(rf.RegionError, match="unpaired"):
        rf.regions(text + " <!-- figures:z --> no end")
    with pytest.raises(rf.RegionError, match="twice"):
        rf.regions(text + " <!-- figures:x -->again<!-- /figures -->")
