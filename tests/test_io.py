"""Atomic writes: the user's umask, stale temporaries cleaned, storage errors as AelabError."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from aelab.errors import AelabError
from aelab.io import atomic_path, require_writable, write_text


def test_files_are_written_with_the_users_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_text(tmp_path / "report.html", "hello")
    finally:
        os.umask(old)
    assert (tmp_path / "report.html").stat().st_mode & 0o777 == 0o644  # mkstemp alone gives 0600


def test_temporaries_of_dead_processes_are_removed_on_the_next_write(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".metrics.jsonl.{dead.stdout.strip()}.0123abcd.tmp"
    old_style = tmp_path / ".metrics.jsonl.k3j4h5.tmp"  # mkstemp's name, from before pids were recorded
    live = tmp_path / f".metrics.jsonl.{os.getpid()}.feedbeef.tmp"  # a write in progress elsewhere
    other = tmp_path / f".config.json.{dead.stdout.strip()}.0123abcd.tmp"
    for path in (stale, old_style, live, other):
        path.write_text("partial")
    write_text(tmp_path / "metrics.jsonl", "{}\n")
    assert not stale.exists() and not old_style.exists()
    assert live.exists() and other.exists()  # another file's temporaries wait for that file's next write
    assert (tmp_path / "metrics.jsonl").read_text() == "{}\n"


def test_a_failed_write_is_an_aelab_error_and_keeps_the_earlier_file(tmp_path):
    (tmp_path / "blocker").write_text("a file where a folder should be")
    with pytest.raises(AelabError, match="cannot write .*blocker/report.html"):
        write_text(tmp_path / "blocker" / "report.html", "new")
    write_text(tmp_path / "report.html", "old")
    with pytest.raises(AelabError, match="No space left on device.*free space"):
        with atomic_path(tmp_path / "report.html"):  # the write itself fails as on a full disk
            raise OSError(errno.ENOSPC, "No space left on device")
    assert (tmp_path / "report.html").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_require_writable_refuses_a_file(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(AelabError, match="is a file, expected a folder"):
        require_writable(tmp_path / "out")
    assert require_writable(tmp_path / "new").is_dir() and list((tmp_path / "new").iterdir()) == []
