"""One wrong entry, one name: verify's finding, check-grad's mismatch and a worked-number claim name the
same entry of dZ with the same words (numeric.compare.locate: layers, nodes and dims numbered from 1,
as MATH.md numbers layers)."""

import numpy as np
import pytest

import derivcheck
from derivcheck.claims import check_file
from derive import Net, Params, symbolic
from numeric import manual
from numeric.compare import check_gradients, locate, worst_entry

NET = Net((2, 2, 1), dim=2, kernel="gaussian", hidden="tanh", loss="sse_half")
Z = [np.array([[0.1, 0.2], [-0.3, 0.4]]), np.array([[0.5, -0.1], [0.0, 0.3]]), np.array([[0.2, 0.2]])]
X, Y = np.array([[1.0, -0.5]]), np.array([[0.25]])
LAYER, NODE, DIM = 2, 1, 2  # the wrong entry, numbered from 1: dZ[LAYER - 1][NODE - 1, DIM - 1]
OFF = 10.0  # far above every tolerance and every other entry's error
WORDS = "dZ of layer 2, node 1, dim 2"


def _wrong(dZ):
    dZ = [np.array(d, dtype=np.float64) for d in dZ]
    dZ[LAYER - 1][NODE - 1, DIM - 1] += OFF
    return dZ


def test_locate_numbers_everything_from_1():
    assert "dZ" + locate("dZ", LAYER, (NODE - 1, DIM - 1)) == WORDS
    assert locate("dW", 3, (0, 1)) == " of layer 3, row 1, col 2"
    assert locate("db", 2, (2,)) == " of layer 2, node 3"
    assert locate("dX", None, (0, 2)) == " of example 1, input 3"
    assert locate("a", 2, (1,)) == " of layer 2, node 2"  # one example: the batch axis dropped
    assert locate("delta", 3, (1, 0)) == " of layer 3, example 2, node 1"
    assert locate("hvp", 2, (2, 0), block=True) == " of block 2, entry (3, 1)"
    assert locate("grad", None, (4,)) == " entry 5"
    assert locate("penalty", 3) == " of layer 3" and locate("loss", None) == ""


def test_worst_entry_names_a_nan_and_a_misshapen_layer():
    t = [np.zeros((2, 2)), np.zeros((3, 2))]
    u = [np.zeros((2, 2)), np.zeros((3, 2))]
    u[1][2, 0] = np.nan
    assert worst_entry("dZ", u, t)[0] == " of layer 2, node 3, dim 1"
    assert worst_entry("dZ", [np.zeros((2, 2)), np.zeros((3, 1))], t)[0] == " of layer 2: shape (3, 1), expected (3, 2)"


def test_verify_check_grad_and_claims_name_one_wrong_entry_alike(tmp_path):
    # verify: an engine's gradients against the 50-digit truth (derivcheck.verify's check_gradients)
    p = Params(Z=Z)
    truth = symbolic.gradients(NET, p, X, Y, dps=50)
    engine = manual.gradients(NET, p, X, Y)
    engine.dZ = _wrong(engine.dZ)
    (bad,) = [f for f in check_gradients(engine, truth) if not f.ok]
    verify_msg = bad.describe()
    assert verify_msg.startswith(WORDS + " ("), verify_msg

    # check-grad: a user function that returns the truth with that one entry changed, on every case
    def fn(Zs, Xs, Ys):
        return {"dZ": _wrong(manual.gradients(NET, Params(Z=list(Zs)), Xs, Ys).dZ)}

    result = derivcheck.check_grad(fn, NET, cases=1, seed=0, adversarial=False, shrink=False)
    assert not result and result.failed == result.checked
    (m,) = result.findings  # a numeric.compare.Finding, as verify's: one judge, one message
    check_grad_msg = m.describe()
    assert check_grad_msg.startswith(WORDS + " (fn vs ground truth): "), check_grad_msg
    assert result.to_dict()["findings"][0]["where"] == WORDS.removeprefix("dZ ")
    assert f"  {WORDS} (fn vs ground truth): " in result.report()

    # claims: a worked number on that entry (index counted from 0 in the file), and the whole layer
    # with that one entry wrong; a document numbering its input layer 0 is named in MATH.md's numbers
    true = truth.dZ[LAYER - 1]
    rows = [[f"{v:.10f}" for v in row] for row in _wrong(truth.dZ)[LAYER - 1]]

    def claims(input_layer: int) -> str:
        layer = LAYER - 1 + input_layer
        return f"""
[network]
kind = "spatial"
widths = [2, 2, 1]
dim = 2
kernel = "gaussian"
hidden = "tanh"
loss = "sse_half"
input_layer = {input_layer}
coordinates = {[z.tolist() for z in Z]}
[data]
x = {X.tolist()}
y = {Y.tolist()}
[[claim]]
id = "entry"
quantity = "dZ"
layer = {layer}
index = [{NODE - 1}, {DIM - 1}]
value = "{true[NODE - 1, DIM - 1] + OFF:.10f}"
[[claim]]
id = "layer"
quantity = "dZ"
layer = {layer}
value = {rows}
"""

    path = tmp_path / "c.toml"
    path.write_text(claims(1))
    doc = check_file(path)
    msgs = {r.id: r.finding for r in doc.results}
    for cid in ("entry", "layer"):
        assert msgs[cid].startswith(f"{WORDS} (claim '{cid}' vs manual engine): "), msgs[cid]
    path.write_text(claims(0))
    for r in check_file(path).results:
        assert r.finding.startswith(f"{WORDS} (layer 1 in the document) (claim '{r.id}' vs"), r.finding

    # the same words in all three
    def words(msg: str, sep: str) -> str:
        return msg.split(sep, 1)[0]

    assert words(verify_msg, " (") == words(check_grad_msg, " (") == words(msgs["entry"], " (") == WORDS


@pytest.mark.parametrize("quantity,index,words", [("dW", (0, 1), " of layer 2, row 1, col 2"), ("db", (1,), " of layer 2, node 2")])
def test_check_grad_names_other_quantities_like_verify(quantity, index, words):
    from derivcheck.checkgrad.compare import compare
    from numeric.compare import check_close

    t = [np.linspace(1, 2, int(np.prod(s))).reshape(s) for s in ([(2, 2)] if quantity == "dW" else [(2,)])]
    u = [a.copy() for a in t]
    u[0][index] += 1.0
    (m,) = compare({quantity: u}, {quantity: t})
    assert m.where == words == check_close(quantity, "manual", u, t).where
