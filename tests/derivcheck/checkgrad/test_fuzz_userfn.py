"""Hypothesis writes the user's gradient module (issue 22.5): a source text drawn from behaviours (the right
gradient, computed by examples/my_grad.py, in several containers; wrong numbers; wrong shapes, types,
None, NaN, complex, missing or unknown keys; exceptions of every kind, sys.exit and os._exit, at import
or in the call; prints and short sleeps on the way), run by `derivcheck check-grad` through its supervised
worker. The verdict class must follow from the behaviour alone: exit 0 only for the right gradient, 1 for
wrong numbers, 2 and one line for code that gives no answer, never a traceback (the child's stderr is
read too: capfd)."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from derivcheck import cli
from tests.helpers import REPO, USER_PRELUDE

NET = str(REPO / "examples" / "my_net.toml")

#: a few examples of the active profile (dev 10 -> 4, ci 25 -> 8): each is a check-grad run and a child process
FEW = settings(max_examples=max(4, settings.default.max_examples // 3))

# ---- what fn returns: (source of the return expression, expected exit, a phrase of the one line on exit 2)
RIGHT = [
    ("_dz(Z, X, Y)", 0, ""),
    ("tuple(_dz(Z, X, Y))", 0, ""),
    ("[a.tolist() for a in _dz(Z, X, Y)]", 0, ""),
    ("{'dZ': _dz(Z, X, Y)}", 0, ""),
    ("{'loss': _g.grad(Z, X, Y)['loss'], 'dZ': _dz(Z, X, Y), 'dX': None}", 0, ""),
]
WRONG = [
    ("[1.5 * a for a in _dz(Z, X, Y)]", 1, ""),
    ("[-a for a in _dz(Z, X, Y)]", 1, ""),
    ("[0 * a for a in _dz(Z, X, Y)]", 1, ""),
    ("[a * (1 + 1e-6) for a in _dz(Z, X, Y)]", 1, ""),
    ("_poke(_dz(Z, X, Y), np.nan)", 1, ""),
    ("_poke(_dz(Z, X, Y), np.inf)", 1, ""),
    ("_poke(_dz(Z, X, Y), 1e300)", 1, ""),
    ("{'loss': 1.0 + _g.grad(Z, X, Y)['loss'], 'dZ': _dz(Z, X, Y)}", 1, ""),
    ("[a.astype(bool) for a in _dz(Z, X, Y)]", 1, ""),
]
BROKEN = [
    ("None", 2, "fn returned NoneType"),
    ("'dZ'", 2, "fn returned str"),
    ("42", 2, "fn returned int"),
    ("{}", 2, "fn returned nothing to compare"),
    ("{'dz': _dz(Z, X, Y)}", 2, "unknown quantity 'dz'"),
    ("{'dW': _dz(Z, X, Y)}", 2, "dW"),
    ("{'loss': [1.0, 2.0]}", 2, "a loss of shape"),
    ("_dz(Z, X, Y)[:-1]", 2, "arrays for dZ"),
    ("[a[:-1] for a in _dz(Z, X, Y)]", 2, "with shape"),
    ("[a.ravel() for a in _dz(Z, X, Y)]", 2, "with shape"),
    ("[a + 0j for a in _dz(Z, X, Y)]", 2, "complex values"),
    ("[np.array([object()]) for a in Z]", 2, "not an array"),
    ("[str(a) for a in _dz(Z, X, Y)]", 2, "not an array"),
    ("[None for a in Z]", 2, "not an array"),
    ("{'dZ': 3.0}", 2, "fn returned float"),
    ("_dz(Z, X, Y)[0]", 2, "fn returned ndarray"),
]
RAISES = [
    ("raise ValueError('bad shape')", "fn raised ValueError: bad shape"),
    ("raise KeyError('w')", "fn raised KeyError"),
    ("1 / 0", "fn raised ZeroDivisionError"),
    ("_rec()", "fn raised RecursionError"),
    ("raise type('Odd', (BaseException,), {})('odd')", "fn raised Odd: odd"),
    ("raise KeyboardInterrupt", "fn raised KeyboardInterrupt"),
    ("raise GeneratorExit", "fn raised GeneratorExit"),
    ("sys.exit(0)", "called sys.exit(0)"),
    ("sys.exit(3)", "called sys.exit(3)"),
    ("sys.exit('done')", "called sys.exit("),
    ("os._exit(0)", "fn ended its process (exit status 0)"),
    ("os._exit(1)", "fn ended its process (exit status 1)"),
    ("os.kill(os.getpid(), signal.SIGTERM)", "fn ended its process (signal SIGTERM)"),
]
#: harmless things fn (or the import) does before its answer
ON_THE_WAY = ["", "print('debug', Z[0].shape)", "print('x' * 5000, file=sys.stderr)", "time.sleep(0.01)", "sys.stdout.flush()"]

HELPERS = """
def _poke(d, value):
    d[-1][0, 0] = value
    return d

def _rec():
    return _rec()
"""


@st.composite
def user_modules(draw):
    """(source, expected exit code, phrase of the error line or "")."""
    kind = draw(st.sampled_from(["return", "raise", "import"]))
    before = draw(st.sampled_from(ON_THE_WAY))
    at_import = draw(st.sampled_from([s for s in ON_THE_WAY if "Z" not in s]))
    if kind == "return":
        ret, code, phrase = draw(st.sampled_from(RIGHT + WRONG + BROKEN))
        body = f"    {before}\n    return {ret}\n"
    else:
        stmt, phrase = draw(st.sampled_from(RAISES))
        code = 2
        if kind == "import":  # the same while the module loads: refused in one line, fn never called
            at_import, phrase = stmt, phrase.removeprefix("fn ")
            body = "    return _dz(Z, X, Y)\n"
        else:
            body = f"    {before}\n    {stmt}\n"
    source = USER_PRELUDE + HELPERS + f"{at_import}\n" + "def grad(Z, X, Y):\n" + body
    return source, code, phrase


@contextlib.contextmanager
def _fds_to(path: Path):
    """Both output file descriptors (the child's stderr included) into `path` (hypothesis takes no capfd)."""
    sys.stdout.flush(), sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        with io.TextIOWrapper(os.fdopen(os.dup(fd), "wb"), write_through=True) as out:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                os.dup2(fd, 1), os.dup2(fd, 2)
                yield
    finally:
        os.dup2(saved[0], 1), os.dup2(saved[1], 2)
        for f in (*saved, fd):
            os.close(f)


def _check_grad(source: str) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "user_grad.py"
        path.write_text(source)
        log = Path(tmp) / "output.txt"
        with _fds_to(log):
            argv = ["check-grad", f"{path}:grad", "--net", NET, "--cases", "1", "--no-shrink", "--fn-timeout", "20"]
            code = cli.main(argv)
        return code, log.read_text()


@FEW
@given(module=user_modules())
def test_the_verdict_class_follows_from_what_fn_does(module):
    source, want, phrase = module
    code, text = _check_grad(source)
    assert "Traceback" not in text, text[-3000:]
    assert code == want, (code, want, text[-1500:], source[-400:])
    if code == 2:
        errors = [ln for ln in text.splitlines() if ln.startswith("derivcheck check-grad: error:")]
        assert len(errors) == 1 and phrase in errors[0], (phrase, text[-1500:])
    if code == 0:
        assert "agrees with the ground truth on every case" in text


def test_torch_tensors_returned_under_torch_are_judged(capfd):
    """Out of the drawn pool: torch takes a second to import in the child. The right gradient as tensors
    (requires_grad, as autograd code leaves them) passes."""
    ret = "[torch.from_numpy(a).requires_grad_() for a in _dz([z.numpy() for z in Z], X.numpy(), Y.numpy())]"
    source = USER_PRELUDE + f"import torch\ndef grad(Z, X, Y):\n    return {ret}\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "user_torch.py"
        path.write_text(source)
        code = cli.main(["check-grad", f"{path}:grad", "--net", NET, "--cases", "1", "--no-shrink", "--torch"])
    out, err = capfd.readouterr()
    assert code == 0 and "Traceback" not in err, out + err
