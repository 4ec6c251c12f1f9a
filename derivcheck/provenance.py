"""Reproducibility: versions, machine, command line, and atomic writes (temp file, then rename)."""

from __future__ import annotations

import json
import os
import platform
import shlex
import stat
import sys
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TypedDict

from derive import SpecError

__all__ = [
    "versions_line",
    "machine_line",
    "check_out_path",
    "check_writable",
    "versions",
    "machine",
    "command_line",
    "provenance",
    "Provenance",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
]

PACKAGES = ("derivcheck", "sympy", "mpmath", "numpy", "scipy", "torch", "hypothesis", "jinja2", "matplotlib")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def machine(cuda: bool = True) -> dict[str, object]:
    """Platform, processor, CPUs and the CUDA device (cuda=False: not asked, so torch is not imported,
    for exact reports that run no engine)."""
    info: dict[str, object] = {"platform": platform.platform(), "processor": platform.machine(), "cpus": os.cpu_count()}
    if not cuda:
        info["cuda"] = "not used"
        return info
    try:
        import torch

        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:  # pragma: no cover
        info["cuda"] = None
    return info


def command_line(argv: list[str] | None = None) -> str:
    argv = sys.argv[1:] if argv is None else argv
    return "derivcheck " + " ".join(shlex.quote(a) for a in argv)


class Provenance(TypedDict):
    """The record `provenance` returns (a plain dict at run time)."""

    seed: int | None
    command: str
    versions: dict[str, str]
    machine: dict[str, object]
    created: str


def provenance(seed: int | None = None, argv: list[str] | None = None, cuda: bool = True) -> Provenance:
    """What every report and results file records: seed, versions, machine, command, time."""
    return {
        "seed": seed,
        "command": command_line(argv),
        "versions": versions(),
        "machine": machine(cuda),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def versions_line(prov: Provenance) -> str:
    """The package versions of `prov` as one line ("numpy 2.1, sympy 1.13, ...")."""
    return ", ".join(f"{k} {v}" for k, v in prov["versions"].items())


def machine_line(prov: Provenance) -> str:
    """The machine of `prov` as one line (platform, CPUs, CUDA)."""
    m = prov["machine"]
    return f"{m.get('platform')}, {m.get('cpus')} CPUs, CUDA: {m.get('cuda') or 'none'}"


def _umask() -> int:
    mask = os.umask(0o022)  # the only portable way to read it is to set it; put it straight back
    os.umask(mask)
    return mask


def check_out_path(path, flag: str = "--out") -> Path:
    """An output file named on the command line, checked before any work: not empty, and either a
    new path or a regular file (a folder, a device or a FIFO is refused, never replaced)."""
    text = str(path) if path is not None else ""
    if not text.strip():
        raise SpecError(f"{flag} is empty", f"name the output file, e.g. {flag} results.json")
    p = Path(text)
    if p.exists() and not p.is_file():
        raise SpecError(f"{flag} {text!r} exists and is not a regular file", "name a new file or a regular file")
    return p


def check_writable(path, flag: str = "--out", folder: bool = False) -> Path:
    """Prove before any work that `path` (a file, or with `folder` a folder of outputs) can be written:
    the temp file `atomic_write_bytes` would make is created beside it (in the nearest folder that
    exists, when the path's folders are still to be made) and removed; names too long for the file
    system are refused too. A run must not do minutes of work and then lose its results."""
    text = str(path) if path is not None else ""
    if not text.strip():
        raise SpecError(f"{flag} is empty", f"name the output {'folder' if folder else 'file'}, e.g. {flag} reports/build")
    p = Path(text)
    try:
        limit = os.pathconf("/", "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    # before any stat (a name over the limit makes exists() raise); mkstemp's ".NAME.XXXXXXXX.tmp" is
    # the longest name any write makes
    for part in [*p.parts, f".{p.name}.XXXXXXXX.tmp"]:
        if len(os.fsencode(part)) > limit:
            raise SpecError(
                f"{flag}: the name {part[:24]}... has {len(os.fsencode(part))} bytes, over the file system's {limit}",
                "use a shorter name (the temp file adds 14 characters)",
            )
    if folder and p.exists() and not p.is_dir():
        raise SpecError(f"{flag} {text!r} exists and is not a folder", "name a new folder or an existing one")
    if not folder:
        check_out_path(p, flag)
    base = p if folder and p.is_dir() else p.parent
    while not base.exists():  # folders still to be made: the nearest that exists must take them
        base = base.parent
    if not base.is_dir():
        raise SpecError(f"{flag} {text!r}: {str(base)!r} is a file, not a folder", "choose an output path in a folder")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name or 'out'}.", suffix=".tmp", dir=base)
    except OSError as exc:
        raise SpecError(
            f"{flag} {text!r} cannot be written ({exc.strerror} in {str(base)!r})", "choose a writable output path"
        ) from None
    os.close(fd)
    os.unlink(tmp)
    return p


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` via a temp file in the same folder and os.replace (never half-written).

    The file gets the mode a plain open() would give it: an existing file keeps its mode, a new one gets
    0o666 minus the umask (mkstemp alone would make every file 0600). Anything at `path` that is not a
    regular file (a folder, a device, a FIFO) is refused, not replaced.

    Raises:
        SpecError: `path` exists and is not a regular file, or its folder cannot be created.
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        raise SpecError(f"output path {str(path)!r} exists and is not a regular file", "name a new file or a regular file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise SpecError(
            f"cannot create the folder {str(path.parent)!r}: a file is in the way", "choose an output path in a folder"
        ) from None
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: object) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
