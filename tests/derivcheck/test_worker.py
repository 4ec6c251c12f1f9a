"""derivcheck.worker: the user's code runs in a child process; whatever it does that is not an answer is
one line and exit 2, and the checking process never ends, hangs or runs the user's code itself (issue 22:
os._exit(0) in fn ended check-grad with exit 0 and no output; a loop ran until killed)."""

import time

import numpy as np
import pytest

from derivcheck import cli
from derivcheck.worker import decode, encode
from tests.helpers import REPO, USER_PRELUDE

NET = str(REPO / "examples" / "my_net.toml")

GOOD = USER_PRELUDE

CASES = {
    "os_exit": ("os._exit(0)", "fn ended its process (exit status 0)"),
    "abort": ("os.abort()", "fn ended its process (signal SIGABRT)"),
    "kill": ("os.kill(os.getpid(), signal.SIGKILL)", "fn ended its process (signal SIGKILL)"),
    "hang": ("time.sleep(600)", "fn did not return within 2 s"),
    "loop": ("while True: pass", "fn did not return within 2 s"),
    "base_exception": ("raise type('Odd', (BaseException,), {})('odd')", "fn raised Odd: odd"),
    "generator_exit": ("raise GeneratorExit('bye')", "fn raised GeneratorExit: bye"),
    "keyboard_interrupt": ("raise KeyboardInterrupt", "fn raised KeyboardInterrupt"),
    "memory": ("np.ones(10**12)", "fn raised MemoryError"),
    "array_raises": (
        "return [type('A', (), {'__array__': lambda self, *a, **k: 1 / 0})() for z in Z]",
        "fn returned A for dZ of layer 1, not an array",
    ),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_what_is_not_an_answer_is_one_line_exit_2(tmp_path, capsys, kind):
    body, words = CASES[kind]
    path = tmp_path / f"user_{kind}.py"
    path.write_text(GOOD + f"def grad(Z, X, Y):\n    {body}\n")
    t0 = time.monotonic()
    code = cli.main(["check-grad", f"{path}:grad", "--net", NET, "--cases", "2", "--fn-timeout", "2"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert words in err and len(err.strip().splitlines()) == 1, err
    assert time.monotonic() - t0 < 60  # bounds a hang; not a speed test


def test_a_thread_that_never_ends_does_not_keep_the_run_alive(tmp_path, capsys):
    path = tmp_path / "user_thread.py"
    path.write_text(
        GOOD + "def grad(Z, X, Y):\n    threading.Thread(target=time.sleep, args=(600,)).start()\n    return _dz(Z, X, Y)\n"
    )
    assert cli.main(["check-grad", f"{path}:grad", "--net", NET, "--cases", "2"]) == 0, capsys.readouterr().err


def test_prints_of_the_users_code_do_not_disturb_the_channel(tmp_path, capsys):
    path = tmp_path / "user_print.py"
    path.write_text(GOOD + "print('hello from import')\ndef grad(Z, X, Y):\n    print('x' * 100000)\n    return _dz(Z, X, Y)\n")
    assert cli.main(["check-grad", f"{path}:grad", "--net", NET, "--cases", "2"]) == 0, capsys.readouterr().err


def test_the_wire_carries_arrays_and_containers_not_objects():
    value = {"loss": 1.5, "dZ": [np.arange(6.0).reshape(2, 3), np.array([[1 + 2j]])], "n": [True, None, "s"]}
    back = decode(encode(value))
    assert back["loss"] == 1.5 and back["n"] == [True, None, "s"]
    np.testing.assert_array_equal(back["dZ"][0], value["dZ"][0])
    assert back["dZ"][1].dtype == np.complex128
    assert type(decode(encode(object()))).__name__ == "object"  # a name, never the object itself
    assert type(decode(encode(np.array([object()])))).__name__ == "object array"
    with pytest.raises(ValueError):
        decode({"nd": ["|O", [1], ""]})  # an object dtype would unpickle: refused


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ("os.close(0)\n    return _dz(Z, X, Y)", 2, "fn raised OSError"),  # the second call closes it again: the user's error
        ("sys.stdin.read()\n    return _dz(Z, X, Y)", 0, "agrees with the ground truth"),  # fd 0 is /dev/null, not the channel
        ("os.closerange(0, 100)\n    return _dz(Z, X, Y)", 2, "fn ended its process (exit status 1)"),
        ("sys.stdout.close()\n    return _dz(Z, X, Y)", 0, "agrees with the ground truth"),  # stdout is not the channel
    ],
    ids=["close_stdin", "read_stdin", "close_every_fd", "close_stdout"],
)
def test_user_code_that_closes_or_reads_the_childs_descriptors(tmp_path, capfd, body, code, words):
    """os.close(0) in fn cut the requests' pipe: the child died with a traceback on the shared stderr.
    capfd, not capsys: the child writes to the file descriptor, past Python's sys.stderr."""
    path = tmp_path / "user_fds.py"
    path.write_text(GOOD + f"def grad(Z, X, Y):\n    {body}\n")
    got = cli.main(["check-grad", f"{path}:grad", "--net", NET, "--cases", "1", "--fn-timeout", "10"])
    out, err = capfd.readouterr()
    assert got == code and words in out + err, out + err
    assert "Traceback" not in err, err
    if code == 2:
        assert len(err.strip().splitlines()) == 1, err


def test_sparse_and_meta_tensors_cross_the_wire_by_name_and_are_refused():
    """Issue 22: sparse or meta tensors returned under --torch gave tracebacks; they come back as a type
    name (no array can be made of them) and the reader refuses them in one line."""
    import torch

    from derivcheck.checkgrad.userfn import _numpy
    from derive import SpecError

    for t in (torch.zeros(2, 2).to_sparse(), torch.empty(2, 2, device="meta")):
        back = decode(encode(t))
        assert not isinstance(back, np.ndarray)
        with pytest.raises(SpecError, match="not an array"):
            _numpy(back, "dZ of layer 1")
