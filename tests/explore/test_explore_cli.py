"""`aelab explore` from the command line: the page it writes is self-contained, and bad input
is one paragraph with exit status 2."""

from __future__ import annotations

import re

from aelab.cli import main


def test_the_page_is_written_into_the_run_and_loads_nothing(explore_runs, capsys):
    run = explore_runs["plane"]
    assert main(["explore", str(run), "--points", "50"]) == 0
    page = (run / "explore.html").read_text()
    assert "wrote" in capsys.readouterr().out
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", page)  # no resource from anywhere else
    assert '"n":50' in page and "makeDecoder" in page


def test_two_runs_default_to_a_page_named_after_both(explore_runs, tmp_path):
    a, b = explore_runs["vector"], explore_runs["plane"]
    assert main(["explore", str(a), str(b), "--points", "20", "--train-points", "10"]) == 0
    assert (a / f"explore-vs-{b.name}.html").is_file()


def test_a_folder_that_is_not_a_run_is_exit_status_2(tmp_path, capsys):
    assert main(["explore", str(tmp_path), "--out", str(tmp_path / "page.html")]) == 2
    err = capsys.readouterr().err
    assert "not a run folder" in err and "Traceback" not in err
    assert not (tmp_path / "page.html").exists()


def test_three_runs_are_refused(explore_runs, capsys):
    run = str(explore_runs["plane"])
    assert main(["explore", run, run, run]) == 2
    assert "two side by side" in capsys.readouterr().err
