"""One place pins torch (issue 22.4): pyproject.toml states the range a user may install ([project]
dependencies) and the one version the suite runs on ([tool.derivcheck] torch); `make setup` installs that
version, read from pyproject.toml, so the Makefile cannot drift from it (it pinned 2.13.0 by hand while
pip pulled 2.14.1 for `pip install derivcheck`)."""

import re
import shutil
import subprocess
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.helpers import REPO


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _torch_range():
    (req,) = [Requirement(d) for d in _pyproject()["project"]["dependencies"] if Requirement(d).name == "torch"]
    return req.specifier


def test_the_pinned_torch_lies_within_the_stated_range():
    pin = Version(_pyproject()["tool"]["derivcheck"]["torch"])
    assert _torch_range().contains(pin), (str(pin), str(_torch_range()))


def test_the_makefile_has_no_torch_version_of_its_own():
    text = (REPO / "Makefile").read_text()
    assert not re.search(r"torch\s*[=<>~!]=?\s*\d", text), "a torch version written in the Makefile: read it from pyproject.toml"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_setup_installs_the_pinned_torch(tmp_path):
    # -n: print the recipe, run nothing; -B: as on a fresh clone (the stamp would say it is done)
    out = subprocess.run(
        ["make", "-n", "-B", "-C", str(REPO), f"VENV={tmp_path / 'venv'}", "setup"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    installs = re.findall(r"pip install -q \"?torch==([^\"\s]+)", out)
    assert installs == [_pyproject()["tool"]["derivcheck"]["torch"]], out
