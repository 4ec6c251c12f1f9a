"""verify: an engine's stated limit is a skip with its reason, not the user's failure (issue 22). The manual
H v refuses coincident nodes in a penalised layer ("does not take the penalty's Hessian there; use the
torch engine"): verify failed the issue's own net (rho = abs(s) w**2 r**2 with s = -1) on its coincident
case; now that engine's H v is skipped there with the refusal, and torch's H v is still judged."""

import json

from derivcheck.cli import main

SPEC = """[network]
widths = [2, 2]
dim = 2
kernel = "1"
amplitudes = "free"
[[network.penalty]]
rho = "abs(s)*w**2*r**2"
params = { s = -1 }
scale = 0.5
"""


def test_the_manual_hvp_refusing_coincident_penalised_nodes_is_a_skip(tmp_path, capsys):
    (tmp_path / "net.toml").write_text(SPEC)
    out = tmp_path / "r.json"
    code = main(
        [
            "verify",
            "--net",
            str(tmp_path / "net.toml"),
            "--engines",
            "manual,torch-cpu,hvp",
            "--only",
            "a03-coincident",
            "--out",
            str(out),
        ]
    )
    capsys.readouterr()
    res = json.loads(out.read_text())
    (case,) = res["cases"]
    assert code == 0 and res["summary"]["verdict"] == "pass", res["failures"]
    assert any(s.startswith("hvp manual: refused this case (") and "penalised layer" in s for s in case["skipped"])
    assert case["errors"]["torch-cpu"]["hvp"]["pass"]  # the other engine's H v is judged there
