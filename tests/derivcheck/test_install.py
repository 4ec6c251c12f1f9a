"""The built wheel works without the source tree: templates and the claims catalog are package data.

The wheel is installed into a private folder (no dependencies: the test environment has them) and run
from an empty folder, so nothing is found relative to the repository.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from derivcheck import latex
from tests.helpers import REPO


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp.glob("derivcheck-*.whl")
    site = tmp / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    work = tmp / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "derivcheck", *args], cwd=work, env=env, capture_output=True, text=True, timeout=300
        )

    return run, site, work


def test_imports_come_from_the_wheel(installed):
    run, site, _ = installed
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("derivcheck ")
    probe = subprocess.run(
        [sys.executable, "-c", "import derivcheck, derive, numeric; print(derivcheck.__file__)"],
        env={**os.environ, "PYTHONPATH": str(site)},
        cwd=site.parent,
        capture_output=True,
        text=True,
    )
    assert Path(probe.stdout.strip()).is_relative_to(site)


def test_derivation_report_from_any_folder(installed):
    run, _, work = installed
    proc = run("report", "--which", "derivation", "--out", "out")
    assert proc.returncode == 0, proc.stderr
    assert (work / "out" / "derivation.tex").exists()
    if latex.tex_available():
        assert (work / "out" / "derivation.pdf").stat().st_size > 0


def test_claims_without_arguments_checks_the_installed_catalog(installed):
    run, _, work = installed
    proc = run("claims", "--only", "2.7/T2.1/4", "--no-prove")  # one worked number of the catalog's guide
    assert proc.returncode == 0, proc.stderr
    assert not (work / ".hypothesis").exists()  # hypothesis' caches go to the user's cache folder
    assert "2.7/T2.1/4" in proc.stdout and "1 claims, 0 false" in proc.stdout, proc.stdout[-2000:]


def test_verify_and_check_grad_from_any_folder(installed):
    run, _, work = installed
    proc = run("verify", "--quick", "--drawn", "0", "--only", "m001", "--engines", "manual,fd", "--out", "r.json")
    assert proc.returncode == 0, proc.stderr
    assert (work / "r.json").exists()
    (work / "net.toml").write_text('[network]\nwidths = [2, 1]\ndim = 1\nkernel = "gaussian"\nloss = "sse_half"\n')
    # a wrong gradient (half the true dZ, built from the engine so the file stays short): caught, exit 1
    (work / "g.py").write_text(
        "from derive import Net, Params\nfrom numeric import manual\n"
        "NET = Net(widths=(2, 1), dim=1, kernel='gaussian', loss='sse_half')\n"
        "def grad(Z, X, Y):\n    return [0.5 * d for d in manual.gradients(NET, Params(Z=Z), X, Y).dZ]\n"
    )
    proc = run("check-grad", "g.py:grad", "--net", "net.toml", "--cases", "3")
    assert proc.returncode == 1 and "constant factor 0.5000" in proc.stdout, proc.stdout[-1500:] + proc.stderr


def test_presets_ship_with_the_wheel(installed):
    """`--net preset:NAME` reads the presets installed with the package: no source tree needed (a new
    user's finding: the README's preset commands failed after pip install)."""
    run, site, work = installed
    assert (site / "derivcheck" / "presets" / "serrn_wiring.toml").is_file()
    proc = run("verify", "--net", "preset:serrn_wiring", "--cases", "1", "--engines", "manual", "--out", "p.json")
    assert proc.returncode == 0, proc.stderr
    assert "--net preset:serrn_wiring" in (work / "p.json").read_text()  # the reproduce command
    proc = run("verify", "--net", "preset:nope")
    assert proc.returncode == 2 and "use one of preset:bimt, preset:note" in proc.stderr
