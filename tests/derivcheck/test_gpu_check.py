"""scripts/gpu_check.sh (issue 17): the one script a session with a GPU machine runs. Checked here for
syntax and that the commands it runs are ones the CLI accepts (the script itself needs CUDA)."""

import re
import shutil
import subprocess

import pytest

from derivcheck import cli
from tests.helpers import REPO

SCRIPT = REPO / "scripts" / "gpu_check.sh"


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_script_is_valid_bash():
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0


def test_script_runs_the_suite_verify_and_the_cuda_bench_without_install():
    text = SCRIPT.read_text()
    assert "-m pytest" in text and "-p no:benchmark" in text and "pip install -e" not in text
    assert 'PYTHONPATH="$PWD' in text
    verify = re.search(r"-m derivcheck (verify [^\n\"]*)", text).group(1).split()
    bench = re.search(r"-m derivcheck (bench [^\n\"]*)", text).group(1).split()
    assert verify[:4] == ["verify", "--quick", "--engines", "torch-cuda,hvp"]
    assert bench[:5] == ["bench", "--device", "cuda", "--only", "cuda"]
    assert cli.build_parser("verify")[0].parse_args(verify[:4]).engines == "torch-cuda,hvp"
    assert cli.build_parser("bench")[0].parse_args(bench[:5]).device == "cuda"


def test_outputs_fit_what_the_device_tool_brings_back():
    """At most 8 files, flat under $OUT."""
    outs = set(re.findall(r"\$OUT/([\w.-]+)", SCRIPT.read_text()))
    assert len(outs) <= 8 and {"summary.txt", "pytest.txt", "verify.json", "bench.json"} <= outs
