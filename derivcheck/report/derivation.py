"""`derivcheck report --which derivation`: the exact derivation of a spatial net typeset (weights, the
objective, errors, weight, amplitude and coordinate gradients, a Hessian block) with the coordinate-gradient
formula proved or disproved against the exact gradient."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from derivcheck.latex import render
from derivcheck.provenance import machine_line, provenance, versions_line
from derivcheck.report.nets import parse_describe, row_text
from derivcheck.tables import progress, wrap_lines
from derive import Net, symbolic
from derive.typeset import cse_latex, latex, net_latex, penalty_latex

__all__ = ["derivation_report", "net_subtitle", "net_words"]


def _progress():
    """A rich progress bar on stderr, only on a terminal (`derivcheck.tables.progress`)."""
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

    return progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn())


def derivation_report(
    out_dir: str | Path,
    net: Net | None = None,
    batch: int = 1,
    compile: bool = True,
    argv: list[str] | None = None,
    with_printed: bool = False,
    proof: bool = True,
    outcome: dict | None = None,
):
    """Typeset the exact derivation for `net` (default L=3, widths (2,2,1), D=3, gaussian, tanh, mse):
    weights, the objective (loss plus penalty terms), errors, weight, amplitude (free amplitudes) and
    coordinate gradients, a Hessian block, and the gradient formulas (C) and (T) checked against the
    exact gradient (`proof=False` skips the symbolic proof, the slow step: its time grows with the number
    of coordinates). Progress goes to stderr. Returns (tex, pdf or None); `outcome` (a dict), when given,
    receives "formula": "proved", "disproved", "undecided" (not decided within the step budgets) or
    "not run" (`proof=False`), and "what": the formulas checked, e.g. "(C) and (T)"."""
    d = symbolic.derivation(net, batch)
    net = d.net
    node_layer = 2 if net.L > 2 else 1
    l0 = node_layer - 1
    n_proof = d.n_checked() * (2 if with_printed and net.hidden != "identity" else 1) if proof else 0
    if n_proof > 20:  # 3-5-2 in D=2 (20 coordinates) takes 10-30 s; it grows faster than the coordinates
        msg = f"derivation: the symbolic proof expands {n_proof} gradient differences; this can take minutes (--no-proof skips it)"
        print(wrap_lines(msg), file=sys.stderr)
    with _progress() as bar:
        task = bar.add_task("deriving", total=7 + n_proof + (1 if compile else 0))

        def step(what: str, fn):
            bar.update(task, description=what)
            out = fn()
            bar.advance(task)
            return out

        step("loss", lambda: d.loss)
        step("errors delta", lambda: d.delta)
        step("weight gradients", lambda: d.dW)
        step("coordinate gradients", lambda: d.dZ)
        step("amplitude gradients", lambda: d.dtheta)
        step("Hessian block", lambda: d.hessian_block)
        proof_a = proof_h = NOT_RUN
        if proof:
            bar.update(task, description=f"proof, {d.n_checked()} derivatives")
            proof_a = OUTCOMES[d.proof_eq8("a", on_step=lambda *_: bar.advance(task))]
            if n_proof > d.n_checked():
                proof_h = OUTCOMES[d.proof_eq8("h", on_step=lambda *_: bar.advance(task))]
        bar.update(task, description="typesetting")
        ctx = _derivation_context(d, batch, l0, node_layer, proof_a, proof_h, argv)
        if outcome is not None:
            outcome.update(formula=proof_a, what=_formulas(net))
        bar.advance(task)
        bar.update(task, description="LaTeX")
        return render("derivation.tex.j2", ctx, out_dir, "derivation", compile=compile)


NOT_RUN = "not run"
#: proof_eq8's answer -> the outcome's name
OUTCOMES = {True: "proved", False: "disproved", None: "undecided"}


def _formulas(net) -> str:
    return "(C) and (T)" if net.free else "(C)"


def _verdict(outcome: str, false_text: str) -> str:
    """The LaTeX of one proof's outcome."""
    return {
        NOT_RUN: r"not run (\texttt{-{}-{}no-{}proof})",
        "proved": r"\textbf{proved equal}",
        "disproved": false_text,
        "undecided": r"\textbf{undecided}: not proved equal within the time budget (\texttt{-{}-{}budget}), and "
        r"equal at the exact rational point tried, so no counterexample either",
    }[outcome]


def _derivation_context(d, batch: int, l0: int, node_layer: int, proof_a, proof_h, argv) -> dict[str, Any]:
    net = d.net
    W_entries = [(l + 2, latex(Wm)) for l, Wm in enumerate(d.W)]
    # delta and dW share one CSE (the forward quantities are the common pieces); the first 4 entries of each
    delta_cse = [
        (f"\\delta^{{({l + 2})}}_{{{b + 1},{i + 1}}}", e)
        for l, M in enumerate(d.delta)
        for (b, i), e in ((divmod(k, M.shape[1]), M[k]) for k in range(len(M)))
    ][:4]
    dW_cse = [
        (f"\\frac{{\\partial\\mathcal L}}{{\\partial W^{{({l + 2})}}_{{{i + 1},{j + 1}}}}}", e)
        for l, M in enumerate(d.dW)
        for (i, j), e in ((divmod(k, M.shape[1]), M[k]) for k in range(len(M)))
    ][:4]
    s1, red1 = cse_latex([e for _, e in delta_cse + dW_cse])
    J = r"\mathcal J" if net.penalties else r"\mathcal L"
    dtheta_cse = cse_latex([d.dtheta[0][0, 0], d.dtheta_formula("a")[0][0, 0]]) if net.free else None
    eq8 = d.eq8("a")[l0][0, 0]
    dz_cse = cse_latex([d.dZ[l0][0, k] for k in range(net.dim)] + [eq8])
    hess = d.hessian_block
    hess_cse = cse_latex([hess[i, j] for i in range(net.dim) for j in range(i, net.dim)])
    hess_names = [f"H_{{{i + 1},{j + 1}}}" for i in range(net.dim) for j in range(i, net.dim)]
    prov = provenance(None, argv, cuda=False)
    what = "gradient formulas (C) and (T)" if net.free else "coordinate-gradient formula (C)"
    verdict = {
        NOT_RUN: "The formula was not checked against the exact gradient (--no-proof).",
        "proved": f"The {what} and the exact gradient are proved equal.",
        "disproved": f"The {what} and the exact gradient are NOT equal.",
        "undecided": f"UNDECIDED: the {what} could not be proved equal to the exact gradient within the time "
        "budget (--budget), nor shown different.",
    }[proof_a]
    ctx = {
        "net_desc": net_subtitle(net),
        "created": prov["created"],
        "verdict": verdict,
        "proof_a": _verdict(proof_a, r"\textbf{disproved}"),
        "proof_h": None if proof_h == NOT_RUN else _verdict(proof_h, r"\textbf{not equal} (a counterexample exists)"),
        "n_coords": net.n_coords,
        "n_thetas": d.n_checked() - net.n_coords,
        "J": J,
        "free": net.free,
        "penalties": penalty_latex(net),
        "dtheta_cse": dtheta_cse,
        "widths": ",".join(map(str, net.widths)),
        "dim": net.dim,
        "batch": batch,
        "bias_term": "+b^{(l)}" if net.bias else "",
        "loss_name": net.loss,
        **net_latex(net, batch),
        "W_entries": W_entries,
        "loss_cse": cse_latex([d.loss]),
        "delta_entries": [*s1, *((n, e) for (n, _), e in zip(delta_cse, red1[: len(delta_cse)]))],
        "dW_entries": [(n, e) for (n, _), e in zip(dW_cse, red1[len(delta_cse) :])],
        "dz_cse": dz_cse,
        "dz_entries": [
            (f"\\frac{{\\partial{J}}}{{\\partial z^{{({node_layer})}}_{{1,{k_ + 1}}}}}", e) for k_, e in enumerate(dz_cse[1][:-1])
        ],
        "hess_cse": hess_cse,
        "hess_entries": list(zip(hess_names, hess_cse[1])),
        "eq8_entry": dz_cse[1][-1],
        "node_layer": node_layer,
        "command": prov["command"],
        "versions": versions_line(prov),
        "machine": machine_line(prov),
    }
    ctx["loss_def"] = _loss_sum(ctx["loss_def"])
    ctx["W_entries"] = [(l, _weights(l, Wm)) for l, Wm in enumerate(d.W, start=2)]
    for key in ("loss_cse", "dz_cse", "hess_cse", "dtheta_cse"):
        if ctx[key] is not None:
            ctx[key] = (pack(ctx[key][0]), ctx[key][1])
    for key in ("delta_entries", "dW_entries", "dz_entries", "hess_entries"):
        ctx[key] = pack(ctx[key])
    return notation(ctx)


#: an equation narrower than this (in estimated characters of 10 pt maths) shares its line with others
_SHORT, _LINE = 38, 78


def _width(tex: str) -> float:
    """Rough printed width of LaTeX maths in characters of 10 pt text: a command is one glyph (\\left,
    \\right and braces print nothing), a script character 0.7 of one, a script of a script 0.5."""
    t = re.sub(r"\\(left|right|begin\{\w+\}|end\{\w+\}|mathrm|operatorname|quad|qquad)", "", notation(tex))
    t = re.sub(r"\\(tanh|sinh|cosh|exp|log|sin|cos|tan|max|min|sign|erf|text)\b", r"\1", t)  # printed in letters
    t = re.sub(r"\\[A-Za-z]+", "x", t)
    total, stack, pending = 0.0, [0], 0  # stack: script depth of each open brace group
    for ch in t:
        if ch in "^_":
            pending = stack[-1] + 1
        elif ch == "{":
            stack.append(pending or stack[-1])
            pending = 0
        elif ch == "}":
            stack.pop() if len(stack) > 1 else None
        elif ch != " ":
            depth = pending or stack[-1]
            total += (1.0, 0.7, 0.5)[min(depth, 2)]
            pending = 0
    return total


def pack(pairs) -> list[dict]:
    """(lhs, rhs) equations -> display blocks: consecutive short ones share a line (set side by side,
    order kept, so each is still defined before it is used), a long one gets its own breakable dmath."""
    blocks: list[dict] = []
    for lhs, rhs in pairs:
        w = _width(lhs) + _width(rhs) + 2
        last = blocks[-1] if blocks else None
        if w > _SHORT:
            blocks.append({"long": True, "eqs": [(lhs, rhs)], "lines": _lines(rhs, _LINE - _width(lhs) - 3)})
        elif last and not last["long"] and last["w"] + w + 6 <= _LINE:
            last["eqs"].append((lhs, rhs))
            last["w"] += w + 6
        else:
            blocks.append({"long": False, "eqs": [(lhs, rhs)], "w": w})
    return blocks


def _terms(tex: str) -> list[str]:
    """The top-level terms of a LaTeX sum, each with its sign: 'a + b^{c + d} - e' -> ['a', '+ b^{c + d}', '- e']
    (nothing inside braces or \\left ... \\right is split)."""
    terms, depth, start, i = [], 0, 0, 0
    while i < len(tex):
        if tex.startswith("\\left", i):
            depth += 1
            i += 5
            continue
        if tex.startswith("\\right", i):
            depth -= 1
            i += 6
            continue
        ch = tex[i]
        depth += ch == "{"
        depth -= ch == "}"
        if depth == 0 and i > start and tex[i - 1] == " " and ch in "+-" and tex[i + 1 : i + 2] == " ":
            terms.append(tex[start:i].strip())
            start = i
        i += 1
    terms.append(tex[start:].strip())
    return [t for t in terms if t]


def _lines(rhs: str, first: float) -> list[str]:
    """A long right-hand side broken between its terms into lines that fit (the first beside the lhs)."""
    lines, cur, room = [], "", first
    for t in _terms(rhs):
        if cur and _width(cur) + _width(t) + 1 > room:
            lines.append(cur)
            cur, room = t, _LINE - 6
        else:
            cur = f"{cur} {t}" if cur else t
    lines.append(cur)
    return lines


def _weights(layer: int, Wm) -> dict:
    """W^l as a matrix when its rows fit the line, else entry by entry (packed like the xi)."""
    rows, cols = Wm.shape
    entries = [(f"W^{{({layer})}}_{{{i + 1},{j + 1}}}", latex(Wm[i, j])) for i in range(rows) for j in range(cols)]
    if max(_width(e) for _, e in entries) * cols + 4 * cols <= _LINE:
        return {"matrix": latex(Wm), "entries": None}
    return {"matrix": None, "entries": pack(entries)}


def _loss_sum(loss_def: str) -> str:
    """'row \\ \\text{summed over } b,k \\text{ and divided by } N' -> '\\frac{1}{N}\\sum_{b,k} row' (no
    fraction for N = 1)."""
    m = re.fullmatch(r"(.*)\\ \\text\{summed over \} b,k \\text\{ and divided by \} (\S+)", loss_def.strip(), re.S)
    if not m:
        return loss_def
    row, n = m.groups()
    return (r"\sum_{b,k}" if n == "1" else rf"\frac{{1}}{{{n}}}\sum_{{b,k}}") + " " + row


def notation(obj):
    """MATH.md's notation in every LaTeX string: the layer as a bare superscript, z^{l}_{i} (not
    z^{(l)}_{i}), as the training report and MATH.md write it."""
    if isinstance(obj, str):
        return re.sub(r"\^\{\(([^(){}]*|\\VAR\{\w+\})\)\}", r"^{\1}", obj)
    if isinstance(obj, dict):
        return {k: notation(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(notation(v) for v in obj)
    return obj


def net_subtitle(net) -> str:
    """The net in words (the derivation's title; check-grad's, verify's and train's headings): `net_words`."""
    return net_words(parse_describe(net.describe()) or {})


def net_words(spec: dict) -> str:
    """A net in words, never a repr: widths, D, kernel, activations, loss, bias, amplitudes, penalties (an
    MLP: widths, free weights, activations, loss, bias, penalties), from a results.json case's ``spec`` or
    `derivcheck.report.nets.parse_describe` of a kept description."""
    cells = dict(zip(("widths", "D", "kernel", "activations", "loss", "bias", "amplitudes", "penalties"), row_text(spec)))
    parts = [f"widths {cells['widths']}"]
    if spec.get("kind") == "mlp":
        parts.append("free weights")
    else:
        parts += [f"D = {cells['D']}", f"kernel {cells['kernel']}"]
    parts += [f"activations {cells['activations']}", f"loss {cells['loss']}", "biases" if cells["bias"] == "yes" else "no biases"]
    if cells["amplitudes"] == "free":
        parts.append("free amplitudes")
    if cells["penalties"] not in ("none", "--"):
        parts.append(f"penalty {cells['penalties']}")
    return ", ".join(parts)
