"""derivcheck.tables: plain reports folded to the terminal, commands kept whole."""

from derivcheck.tables import wrap_lines


def test_long_lines_fold_at_80_columns_and_commands_stay_whole():
    cmd = "derivcheck check-grad " + "/a/very/long/path/" * 6 + "grad.py:grad --net net.toml --seed 0"
    text = "diagnosis: " + "error grows as nodes approach " * 6 + "\n  short line\nreproduce: " + cmd
    out = wrap_lines(text, 80).splitlines()
    assert all(len(line) <= 80 for line in out if not line.strip().startswith("derivcheck "))
    assert out[-2] == "reproduce:" and out[-1].strip() == cmd  # pasteable as one line
    assert "  short line" in out and out[1].startswith("    ")  # continuation indented
    assert " ".join(w for line in out[:-2] for w in line.split()) == " ".join(text.splitlines()[0].split()) + " short line"


# ------------------------------------------------------------------------------ rich tables at 80 columns


def _shown(table, width=80) -> list[str]:
    import io

    from rich.console import Console

    from derivcheck.tables import show

    buf = io.StringIO()
    show(table, con=Console(file=buf, width=width, highlight=False))
    return buf.getvalue().splitlines()


def _claims_table():
    from rich.table import Table

    t = Table(title="a guide [guide.toml]", title_justify="left")
    for col in ("claim", "where", "quantity", "verdict", "claimed", "true"):
        t.add_column(col, overflow="fold")
    for k in range(7, 12):
        t.add_row(
            f"2.7/T2.2/{k}",
            f"Table 2.2 step {k}",
            "delta (layer 2)",
            "[yellow]holds to rounding[/]",
            "4.15007139e-07",
            "-0.012590648582175233",
        )
    return t


def test_a_claims_table_keeps_ids_and_numbers_whole_at_80_columns():
    lines = _shown(_claims_table())
    text = "\n".join(lines)
    assert all(len(line) <= 80 and line == line.rstrip() for line in lines)
    for token in ("2.7/T2.2/10", "2.7/T2.2/11", "4.15007139e-07", "-0.012590648582175233", "claimed", "quantity"):
        assert token in text, token  # on one line, not folded mid-token


def test_the_verify_table_with_a_fail_keeps_every_column():
    from derivcheck.verify.summary import summary_table

    qs = ["loss", "dW", "dZ", "db", "dX", "grad", "hvp"]
    cells = {
        e: {q: {"max_rel": 1.234e-15, "pass": (e, q) != ("manual-f32", "dZ")} for q in qs}
        for e in ("manual", "manual-f32", "torch-cpu", "torch-f32", "torch-cuda")
    }
    lines = _shown(summary_table(cells, 0))
    assert all(len(line) <= 80 for line in lines)
    header = next(line for line in lines if "engine" in line)
    assert header.split() == ["engine", *qs]  # rich would crop the last column (hvp) off
    assert any(line.split()[:1] == ["manual-f32"] and "FAIL" in line for line in lines)
    assert sum(line.count("1.2e-15") for line in lines) == 5 * 7


def test_a_bench_table_keeps_target_ids_whole_and_folds_only_the_note():
    from rich.table import Table

    t = Table(title="derivcheck bench (quick, 5 s)")
    for col in ("target", "measured", "goal", "pass", "note"):
        t.add_column(col, overflow="fold")
    t.add_row("scaling.grad_bytes", "0.187 exponent", "~2 (1.7..2.3)", "[red]FAIL", "fit_over_all_widths -0.0322")
    t.add_row("cuda.throughput", "1.5 x", ">= 2", "[yellow]skipped", "torch_double_backward_s 0.0105, torch_func_s 0.0141")
    t.add_row("hvp.cost_in_gradients", "0.883 gradients", "<= 3", "[green]pass", "hvp_s 0.000861, gradient_s 0.000975")
    lines = _shown(t)
    text = "\n".join(lines)
    assert all(len(line) <= 80 for line in lines)
    for token in ("scaling.grad_bytes", "cuda.throughput", "hvp.cost_in_gradients", "~2 (1.7..2.3)", "skipped"):
        assert token in text, token
