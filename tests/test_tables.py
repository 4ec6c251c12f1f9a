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
