"""`derivcheck report`: derivation and verification reports (jinja2 -> LaTeX -> latexmk -> PDF)."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

from derivcheck.latex import escape, render
from derivcheck.netspec import net_from_args, net_given
from derivcheck.provenance import atomic_write_bytes, machine_line, versions_line
from derivcheck.report.args import REPORTS
from derivcheck.report.derivation import derivation_report
from derivcheck.report.nets import COLUMNS as NET_COLUMNS
from derivcheck.report.nets import net_row, parse_describe
from derivcheck.verify.summary import QUANTITIES, shown_quantities
from derive import SpecError

__all__ = ["verification_report", "run"]


def _histograms(results: dict, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figs = []
    engines = sorted({e for c in results["cases"] for e in c["errors"]})
    for eng in engines:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        for q in QUANTITIES:
            vals = [c["errors"][eng][q]["ulp"] for c in results["cases"] if q in c["errors"].get(eng, {})]
            if vals:
                ax.hist(np.log10(np.maximum(vals, 1e-1)), bins=20, alpha=0.55, label=f"{q} ({len(vals)})")
        ax.set_xlabel("log10(error in ULPs of the engine's dtype)  [0.1 ULP = exact]")
        ax.set_ylabel("cases")
        ax.set_title(f"{eng}: error against the 50-digit ground truth")
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = out_dir / f"ulp_{eng.replace('-', '_')}.pdf"
        import io

        buf = io.BytesIO()
        fig.savefig(buf, format="pdf")
        plt.close(fig)
        atomic_write_bytes(path, buf.getvalue())
        figs.append(path)
    return figs


def _performance(bench_path: Path | None, out_dir: Path) -> dict | None:
    """The bench's targets and scaling curves for the report (None when `make bench` has not run)."""
    if bench_path is None or not Path(bench_path).exists():
        return None
    try:
        bench = json.loads(Path(bench_path).read_text())
        targets = bench["targets"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return None
    from derivcheck.bench import plot_scaling

    def fmt(v):
        return "--" if v is None else (f"{v:.3g}" if isinstance(v, float) else escape(str(v)))

    rows = [
        [
            escape(t["id"]),
            f"{fmt(t['measured'])} {escape(t['unit'])}",
            escape(str(t["target"])),
            {True: "pass", False: r"\textcolor{red}{FAIL}", None: "skipped"}[t["pass"]],
        ]
        for t in targets
    ]
    scaling = bench.get("sections", {}).get("scaling")
    figure = None
    if scaling and scaling.get("rows"):
        plot_scaling(scaling["rows"], scaling["exponents"], out_dir / "scaling.pdf")
        figure = "scaling.pdf"
    prov = bench.get("provenance", {})
    return {
        "rows": rows,
        "figure": figure,
        "command": prov.get("command", "?"),
        "created": escape(prov.get("created", "?")),
        "quick": bool(bench.get("config", {}).get("quick")),
        "path": escape(str(bench_path)),
    }


# keys a results.json must have for the report (derivcheck.results/1); summary's keys are checked too
_RESULT_KEYS = ("provenance", "summary", "table", "identities", "failures", "cases")
_SUMMARY_KEYS = ("verdict", "cases", "checks", "failures", "wall_time_s")


def _require_keys(results, path: Path) -> None:
    """One line naming the first missing key of a results file (a hand-edited or truncated one)."""
    if not isinstance(results, dict):
        raise SpecError(f"{path} is not a results object", "regenerate it with derivcheck verify")
    for key in _RESULT_KEYS:
        if key not in results:
            raise SpecError(f"{path} lacks the key {key!r}", "regenerate it with derivcheck verify")
    if not isinstance(results["summary"], dict) or not isinstance(results["cases"], list):
        raise SpecError(f"{path} has a malformed summary or cases list", "regenerate it with derivcheck verify")
    for key in _SUMMARY_KEYS:
        if key not in results["summary"]:
            raise SpecError(f"{path} lacks the key 'summary.{key}'", "regenerate it with derivcheck verify")


def _not_run_text(summary: dict) -> str:
    """'torch-cuda (torch.cuda is not available)', or '' when every requested engine ran."""
    return "; ".join(f"{e} ({why})" for e, why in (summary.get("not_run") or {}).items())


def _not_checked_text(summary: dict) -> str:
    """'fd (loss not C2: ...); hvp (...)': checks requested but skipped on every case, or ''."""
    return "; ".join(f"{e} ({why})" for e, why in (summary.get("not_checked") or {}).items())


def _verdict_line(summary: dict) -> str:
    """The report's verdict: never ALL CHECKS PASS without checks or with an engine not run."""
    if summary["verdict"] != "pass":
        return "FAILURES FOUND"
    if not summary["checks"]:
        return "NO CHECKS RAN"
    missing = [*(summary.get("not_run") or {}), *(summary.get("not_checked") or {})]
    if missing:
        return "PASS FOR THE CHECKS RUN (NOT RUN: " + ", ".join(missing) + ")"
    return "ALL CHECKS PASS"


def _id_ranges(ids: list[str]) -> str:
    """['m000', 'm001', 'm002', 'm005'] -> 'm000--m002, m005' (LaTeX): runs of consecutive ids collapse."""
    out: list[list[str]] = []
    for i in ids:
        m = re.fullmatch(r"(.*?)(\d+)", i)
        if out and m:
            p = re.fullmatch(r"(.*?)(\d+)", out[-1][-1])
            if p and p.group(1) == m.group(1) and int(m.group(2)) == int(p.group(2)) + 1:
                out[-1].append(i)
                continue
        out.append([i])
    return ", ".join(rf"\mbox{{{escape(r[0])}}}" if len(r) == 1 else rf"\mbox{{{escape(r[0])}--{escape(r[-1])}}}" for r in out)


#: spec keys that vary within one row of the cases table (the net is otherwise the same)
_WITHIN_GROUP = ("loss", "bias", "batch", "draw", "separation")


def _case_groups(cases: list[dict]) -> dict:
    """The cases as a table of nets: cases whose nets differ only in loss or bias share a row, which lists
    the losses, the bias settings, the case ids and how many passed. Columns no case uses are left out."""
    groups: dict[str, list[dict]] = {}
    for c in cases:
        spec = c.get("spec") or parse_describe(c.get("net", "")) or {"widths": [], "kernel": str(c.get("net", "?"))}
        key = json.dumps({k: v for k, v in spec.items() if k not in _WITHIN_GROUP}, sort_keys=True, default=str)
        groups.setdefault(key, []).append({**c, "spec": spec})
    rows = []
    for members in groups.values():
        cells = net_row(members[0]["spec"])
        losses = list(dict.fromkeys(str(m["spec"].get("loss", "?")) for m in members))
        biases = {m["spec"].get("bias") for m in members}
        cells[4] = escape(", ".join(losses))
        cells[5] = "yes" if biases == {True} else ("no" if biases == {False} else "both")
        n_pass = sum(bool(m["pass"]) for m in members)
        n_fail = len(members) - n_pass
        verdict = rf"\textcolor{{red}}{{{n_fail} FAIL}}" if n_fail else f"{n_pass}/{len(members)} pass"
        rows.append([*cells, _id_ranges([m["id"] for m in members]), verdict])
    # a column is shown when some row says more than its default
    keep = [i for i in range(len(NET_COLUMNS)) if i < 6 or any(r[i] not in ("none", "--") for r in rows)]
    # relative column widths, scaled to the text width less the 6 pt between columns (A4, 2 cm margins: 483 pt)
    longest = max((len(c["id"]) for c in cases), default=4)  # an id is never broken
    weights = [[8, 3, 17, 16, 17, 5, 6, 16][i] for i in keep] + [max(12.0, 1.2 * longest), 9]
    room = 1 - (len(weights) - 1) * 6 / 483 - 0.01
    return {
        "case_widths": [f"{room * w / sum(weights):.3f}" for w in weights],
        "case_columns": [NET_COLUMNS[i] for i in keep] + ["cases", "verdict"],
        "case_rows": [[r[i] for i in keep] + r[len(NET_COLUMNS) :] for r in rows],
    }


def _failures(results: dict) -> list[dict]:
    """Every failure in full: its case's net as a table row, engine, quantity, message, reproducing command."""
    specs = {c["id"]: c.get("spec") or parse_describe(c.get("net", "")) for c in results["cases"]}
    out = []
    for f in results["failures"]:
        spec = specs.get(f.get("case")) or parse_describe(f.get("net", ""))
        out.append(
            {
                "case": escape(f.get("case", "?")),
                "net": list(zip(NET_COLUMNS, net_row(spec))) if spec else [("network", escape(f.get("net", "?")))],
                "engine": escape(f.get("engine", "?")),
                "quantity": escape(f.get("quantity", "?")),
                "message": escape(f.get("message", "")),
                "reproduce": f.get("reproduce", ""),
            }
        )
    return out


def load_results(results_path: Path) -> dict:
    """A `derivcheck verify` results.json, checked (exists, JSON, schema, keys): one line if not."""
    if not results_path.exists():
        raise SpecError(
            f"results file {results_path} does not exist",
            f"run `derivcheck verify --out {results_path}` first (or pass the --results FILE it wrote)",
        )
    try:
        results = json.loads(results_path.read_text())
    except json.JSONDecodeError as exc:
        raise SpecError(f"{results_path} is not valid JSON ({exc.msg})", "regenerate it with derivcheck verify") from None
    except (OSError, UnicodeDecodeError) as exc:  # a folder, an unreadable or binary file
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise SpecError(f"cannot read results file {results_path}: {why}", "pass the results.json of derivcheck verify") from None
    if not isinstance(results, dict) or results.get("schema") != "derivcheck.results/1":
        if not isinstance(results, dict):
            raise SpecError(
                f"{results_path} holds a JSON {type(results).__name__}, not a results object",
                "regenerate it with derivcheck verify",
            )
        raise SpecError(f"{results_path} has schema {results.get('schema')!r}", "expected derivcheck.results/1")
    _require_keys(results, results_path)
    return results


def verification_report(
    results_path: str | Path, out_dir: str | Path, compile: bool = True, bench_path: str | Path | None = "bench/results.json"
):
    """Render a `derivcheck verify` results.json as a report, with the performance targets and
    scaling curves of `make bench` when `bench_path` exists. Returns (tex, pdf or None)."""
    results_path = Path(results_path)
    results = load_results(results_path)
    out_dir = Path(out_dir)
    figs = _histograms(results, out_dir)
    qs = shown_quantities(results["table"])
    rows = []
    for eng, cells in results["table"].items():
        row = [escape(eng)]
        for q in qs:
            c = cells.get(q)
            row.append(
                "--"
                if c is None
                else (f"{c['max_rel']:.1e}" if c["pass"] else f"\\textcolor{{red}}{{{c['max_rel']:.1e}}}")
                + (f" / {c['max_ulp']:.0f}" if c else "")
            )
        rows.append(row)
    tol_rows = []
    for eng, cells in results["table"].items():
        for q, c in cells.items():
            tol_rows.append(
                [
                    escape(eng),
                    escape(q),
                    escape(c["dtype"]),
                    f"{c['tol']:.0e}",
                    str(c["n"]),
                    "pass" if c["pass"] else r"\textcolor{red}{FAIL}",
                ]
            )
    id_rows = [
        [
            escape(eng),
            escape(k),
            f"{c['max']:.1e}",
            f"{c['tol']:.0e}",
            str(c["n"]),
            "pass" if c["pass"] else r"\textcolor{red}{FAIL}",
        ]
        for eng, ids in results["identities"].items()
        for k, c in ids.items()
    ]
    prov = results["provenance"]
    s = results["summary"]
    taylor = [c["taylor"]["slope"] for c in results["cases"] if c.get("taylor") and c["taylor"]["slope"] is not None]
    ctx = {
        "summary": s,
        "verdict": _verdict_line(s),
        "not_run": escape(_not_run_text(s)),
        "not_checked": escape(_not_checked_text(s)),
        "rows": rows,
        "with_dtheta": "dtheta" in qs,
        "tol_rows": tol_rows,
        "id_rows": id_rows,
        "figures": [f.name for f in figs],
        "failures": _failures(results),
        "taylor": (f"{min(taylor):.3f}", f"{max(taylor):.3f}", len(taylor)) if taylor else None,
        **_case_groups(results["cases"]),
        "seed": prov["seed"],
        "command": prov["command"],
        "versions": escape(versions_line(prov)),
        "machine": escape(machine_line(prov)),
        "created": escape(prov["created"]),
        "perf": _performance(None if bench_path is None else Path(bench_path), out_dir),
    }
    if ctx["perf"] and ctx["perf"]["figure"]:
        figs = [*figs, out_dir / ctx["perf"]["figure"]]
    return render("verification.tex.j2", ctx, out_dir, "verification", figures=figs, compile=compile)


def _errata(out_dir, compile):
    from derivcheck.claims import build_errata, check_files, default_files

    return build_errata(check_files(default_files(), progress=True), out_dir, compile=compile)


def _training(out_dir, compile, net=None):
    from derivcheck.train import make_task, training_report

    task = None if net is None else make_task("synthetic", 0, net=net)
    return training_report(out_dir, compile=compile, task=task)


def run(args) -> int:
    which = [w.strip() for w in args.which.split(",") if w.strip()]
    bad = [w for w in which if w not in REPORTS]
    if bad:
        close = difflib.get_close_matches(bad[0], REPORTS, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise SpecError(f"unknown report {bad[0]!r}", f"{hint}use a comma-separated subset of {','.join(REPORTS)}")
    compile = not args.no_pdf
    net = net_from_args(args).net if net_given(args) else None
    if net is not None and not net.spatial:
        raise SpecError("the derivation and training reports are for spatial networks", 'use kind = "spatial"')
    if "verification" in which:  # checked before any report is built (a derivation takes minutes)
        load_results(Path(args.results))
    outcome: dict = {}
    build = {
        "verification": lambda: verification_report(args.results, args.out, compile=compile, bench_path=args.bench),
        "derivation": lambda: derivation_report(args.out, net=net, compile=compile, proof=not args.no_proof, outcome=outcome),
        "errata": lambda: _errata(args.out, compile),
        "training": lambda: _training(args.out, compile, net),
    }
    for name in which:
        tex, pdf = build[name]()
        print(f"{name}: {Path(pdf or tex).resolve()}")
    found = outcome.get("formula")
    if found not in (None, "not run"):
        print(f"derivation: formula {outcome['what']} against the exact gradient: {found}")
    # a report that was written but whose formula is disproved or undecided is not a pass
    return 1 if found in ("disproved", "undecided") else 0
