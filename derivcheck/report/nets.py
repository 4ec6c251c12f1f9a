"""Networks as table rows for the PDF reports: widths, D, kernel, activations, loss, bias, amplitudes and
penalties in columns, never a Python repr (`Net(widths=(2, 2, 2), D=3, ...)`) in running text.

A row comes from a results.json case's ``spec`` (a net's [network] table, `derivcheck.netspec`) or, where
only the description string is kept (a formula claim's counterexample), from `derive.Net.describe()` /
`derive.MLP.describe()` text, split at its top-level commas.
"""

from __future__ import annotations

import re

from derivcheck.latex import escape

__all__ = ["COLUMNS", "breakable", "net_row", "parse_describe", "row_text"]

#: the columns of a net row, in order (LaTeX headers)
COLUMNS = ("widths", "$D$", "kernel $g$", "activations", "loss", "bias", "ampl.", "penalties")


def _split_top(text: str) -> list[str]:
    """'a=(1, 2), b=x(y, z)' -> ['a=(1, 2)', 'b=x(y, z)']: commas outside brackets and quotes."""
    parts, depth, quote, cur = [], 0, "", ""
    for ch in text:
        if ch in "'\"" and quote in ("", ch):
            quote = "" if quote else ch
        elif not quote and ch in "([{":
            depth += 1
        elif not quote and ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0 and not quote:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def parse_describe(desc: str) -> dict | None:
    """`Net(...)` / `MLP(...)` description text -> a spec-like dict (None when it is not one)."""
    m = re.fullmatch(r"\s*(Net|MLP)\((.*)\)\s*", str(desc), re.S)
    if not m:
        return None
    spec: dict = {"kind": "spatial" if m.group(1) == "Net" else "mlp", "penalty": []}
    for part in _split_top(m.group(2)):
        key, _, val = part.partition("=")
        key, val = key.strip(), val.strip()
        if key == "widths":
            spec["widths"] = [int(w) for w in re.findall(r"\d+", val)]
        elif key == "D":
            spec["dim"] = int(val)
        elif key == "g":
            spec["kernel_text"] = val
        elif key == "activations":
            spec["activations"] = re.findall(r"[A-Za-z_][\w.()=]*", val) if val.startswith(("(", "[")) else [val.strip("'\"")]
        elif key == "relu_grad_at_zero":
            spec[key] = float(val)
        elif key == "bias":
            spec["bias"] = val == "True"
        elif key == "penalty":
            spec["penalty"].append({"text": val})
        else:
            spec[key] = val
    return spec


def _kernel(spec: dict) -> str:
    if "kernel_text" in spec:
        return spec["kernel_text"]
    params = spec.get("kernel_params") or {}
    kp = ",".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in sorted(params.items()))
    return f"{spec.get('kernel', '?')}" + (f"({kp})" if kp else "")


def _activations(spec: dict) -> str:
    if spec.get("kind") == "mlp":
        acts = spec.get("activations") or []
        acts = [acts] if isinstance(acts, str) else list(acts)
        if acts and all(a == acts[0] for a in acts):
            return f"{acts[0]} (all layers)"
        return ", ".join(acts)
    return f"{spec.get('hidden', '?')} / {spec.get('output', '?')}"


def _kink(spec: dict) -> str:
    """The stated subgradient at ReLU's kink (relu_grad_at_zero), where stated."""
    s = spec.get("relu_grad_at_zero")
    return "" if s is None else f", ReLU'(0) = {float(s):g}"


def _penalties(spec: dict) -> str:
    out = []
    for p in spec.get("penalty") or []:
        if "text" in p:
            out.append(p["text"])
            continue
        params = ",".join(f"{k}={v:g}" for k, v in sorted((p.get("params") or {}).items()))
        out.append(f"{p.get('scale', 1):g} {p.get('reduce', 'sum')} {p['rho']}" + (f" ({params})" if params else ""))
    return "; ".join(out) or "none"


def row_text(spec: dict) -> list[str]:
    """The plain-text cells of `COLUMNS` for a spec (a results.json case's or `parse_describe`'s)."""
    spatial = spec.get("kind", "spatial") == "spatial"
    bias = spec.get("bias")
    return [
        "-".join(str(w) for w in spec.get("widths", [])),
        str(spec.get("dim", "")) if spatial else "--",
        _kernel(spec) if spatial else "(free weights)",
        _activations(spec) + _kink(spec),
        str(spec.get("loss", "?")) + (f" ({spec['loss_reduction']})" if spec.get("loss_reduction") is not None else ""),
        "yes" if bias is True else ("no" if bias is False else str(bias)),
        str(spec.get("amplitudes", "none")) if spatial else "--",
        _penalties(spec) if spatial or spec.get("penalty") else "--",  # an MLP's: on its weights, where it has any
    ]


def net_row(spec: dict) -> list[str]:
    """`row_text`, escaped for LaTeX (a dash cell stays an en dash), breakable after underscores and
    opening parentheses (a narrow column holds inverse_multiquadric or leaky_relu(alpha=0.1))."""
    return [c if c == "--" else breakable(escape(c)) for c in row_text(spec)]


def breakable(latex: str) -> str:
    """Escaped text with break points after underscores and opening parentheses (table cells)."""
    return latex.replace(r"{\_}", r"{\_}\allowbreak{}").replace("(", r"(\allowbreak{}")
