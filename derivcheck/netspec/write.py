"""Writing a network back: `net_table` (the ``[network]`` table `net_from_table` reads back) and
`net_flags` (the command-line flags that rebuild it, as printed in reproducing commands)."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from derive import MLP, Net

__all__ = ["net_table", "net_flags"]


def net_table(net: Net | MLP) -> dict:
    """The ``[network]`` table of a net (what `net_from_table` reads back)."""
    if not net.spatial:
        m = {"kind": "mlp", "widths": list(net.widths), "activations": list(net.activations), "loss": net.loss, "bias": net.bias}
        return m | _penalty_tables(net) | _conventions(net)
    t = {
        "kind": "spatial",
        "widths": list(net.widths),
        "dim": net.dim,
        "kernel": net.kernel,
        "kernel_params": dict(net.kernel_params),
        "hidden": net.hidden,
        "output": net.output,
        "loss": net.loss,
        "bias": net.bias,
    }
    if net.free:
        t["amplitudes"] = "free"
    return t | _penalty_tables(net) | _conventions(net)


def _penalty_tables(net: Net | MLP) -> dict:
    """The ``[[network.penalty]]`` tables, only where the net has penalties."""
    if not net.penalties:
        return {}
    return {
        "penalty": [
            {"rho": p.rho, "params": dict(p.pairs), "scale": p.scale, "reduce": p.reduce}
            | ({} if p.layers is None else {"layers": list(p.layers)})
            for p in net.penalties
        ]
    }


def _conventions(net: Net | MLP) -> dict:
    """loss_reduction and relu_grad_at_zero, only where stated (tables of other nets stay as they were)."""
    t: dict = {} if net.loss_reduction is None else {"loss_reduction": net.loss_reduction}
    return t | ({} if net.relu_grad_at_zero is None else {"relu_grad_at_zero": net.relu_grad_at_zero})


def net_flags(net: Net | MLP, file_flags: str | None = None) -> str:
    """Command-line flags that rebuild `net` (``--net FILE`` when it came unchanged from a file)."""
    if file_flags:
        return file_flags
    t = net_table(net)
    out = [f"--kind {t['kind']}"] if t["kind"] == "mlp" else []
    out.append("--widths " + ",".join(map(str, t["widths"])))
    if net.spatial:
        out += [f"--dim {t['dim']}", f"--kernel={shlex.quote(t['kernel'])}"]
        out += [f"--param {k}={v:g}" for k, v in t["kernel_params"].items()]
        out += [f"--hidden {shlex.quote(t['hidden'])}", f"--output {shlex.quote(t['output'])}"]
        if net.free:
            out.append("--amplitudes free")
    else:
        out.append("--activations " + shlex.quote(",".join(t["activations"])))
    for p in t.get("penalty", []):
        out += [f"--penalty={shlex.quote(p['rho'])}", f"--penalty-scale {p['scale']!r}", f"--penalty-reduce {p['reduce']}"]
        out += [f"--penalty-param {k}={v!r}" for k, v in p["params"].items()]
        if any("layers" in q for q in t["penalty"]):  # one --penalty-layers per --penalty, or none
            out.append("--penalty-layers " + ",".join(map(str, p.get("layers", range(2, net.L + 1)))))
    out += [f"--loss {shlex.quote(t['loss'])}", "--bias" if t["bias"] else "--no-bias"]
    if "loss_reduction" in t:
        out.append(f"--loss-reduction {t['loss_reduction']}")
    if "relu_grad_at_zero" in t:
        out.append(f"--relu-grad-at-zero {t['relu_grad_at_zero']:g}")
    return " ".join(out)
