"""derivcheck.provenance: atomic writes that keep the user's umask and refuse what is not a file."""

import os
import stat

import pytest

from derivcheck.provenance import atomic_write_text, provenance
from derive import SpecError


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_new_files_follow_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        p = atomic_write_text(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask
    assert p.read_text() == "{}" and [q.name for q in tmp_path.iterdir()] == ["a.json"]  # no temp file left


def test_an_existing_file_keeps_its_mode(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("old")
    p.chmod(0o640)
    atomic_write_text(p, "new")
    assert stat.S_IMODE(p.stat().st_mode) == 0o640 and p.read_text() == "new"


def test_a_fifo_or_folder_is_refused_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for target in (fifo, tmp_path):
        with pytest.raises(SpecError, match="not a regular file"):
            atomic_write_text(target, "x")
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_file_in_the_way_of_the_folder_is_one_line(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(SpecError, match="a file is in the way"):
        atomic_write_text(tmp_path / "f" / "out.json", "x")


def test_provenance_records_seed_command_versions():
    p = provenance(7, ["verify", "--seed", "7"])
    assert p["seed"] == 7 and p["command"].endswith("verify --seed 7")
    assert {"python", "numpy", "sympy"} <= set(p["versions"])
