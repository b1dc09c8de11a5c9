"""Atomic file writes: a reader never sees a half-written file, even after SIGKILL.

Each write goes to `.NAME.<pid>.<random>.tmp` beside NAME and is renamed over it.
Temporary files are created like `open()` creates files, so the user's umask
decides their mode (mkstemp's 0600 would make every report private). A kill can
leave a temporary file behind; the next write of NAME removes those whose
process is gone. A failed write (read-only folder, full disk) is an `AelabError`
and leaves the previous NAME as it was.
"""

from __future__ import annotations

import errno
import glob
import json
import os
import secrets
import sys
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Iterator

from aelab.errors import AelabError

TMP_SUFFIX = ".tmp"
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG})


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it over `path`.

    The temporary file lives in the same folder so the final `os.replace` is a
    single atomic rename on the same filesystem.
    """
    path = Path(path)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TMP_SUFFIX}"
    try:
        with storage_errors(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(path)
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # 0o666 & ~umask, as open() does
        with storage_errors(path, only=STORAGE_ERRNOS):  # the caller's own errors (a failed download) pass
            yield tmp
        with storage_errors(path):
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
    finally:
        with suppress(OSError):  # nothing to remove when the folder itself is unusable
            tmp.unlink(missing_ok=True)


@contextmanager
def storage_errors(path: Path, only: frozenset[int] | None = None) -> Iterator[None]:
    """An OSError (with an errno in `only`, when given) as an AelabError that names the file."""
    try:
        yield
    except OSError as err:
        if only is not None and err.errno not in only:
            raise
        raise AelabError(
            f"cannot write {path} ({err.strerror or err}): make sure {path.parent} is a writable folder with "
            "free space, or write elsewhere; any earlier version of the file is unchanged."
        ) from None


def remove_stale_temporaries(path: Path) -> None:
    """Delete `.NAME.<pid>.*.tmp` files beside `path` whose writing process no longer runs."""
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*{TMP_SUFFIX}"):
        pid = leftover.name[len(path.name) + 2 :].split(".")[0]
        if not (pid.isdigit() and process_exists(int(pid))):  # names without a pid: mkstemp's, from older versions
            leftover.unlink(missing_ok=True)


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process (or a pid we cannot ask about): leave its file alone
    return True


def require_writable(folder: str | os.PathLike) -> Path:
    """`folder`, created if needed, after checking that files can be written into it: call it
    before long work whose results go there, so a read-only folder fails in a second."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise AelabError(f"{folder} is a file, expected a folder for the results: choose another path.")
    write_bytes(folder / ".aelab-write-check", b"")
    (folder / ".aelab-write-check").unlink(missing_ok=True)
    return folder


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2) + "\n")


def lock_file(handle, *, wait: bool) -> bool:
    """An exclusive lock on an open file, released when it closes or the process dies (flock on
    POSIX, msvcrt on Windows, where a wait gives up after about 10 s); False where `wait` is
    False and another process holds it."""
    if sys.platform == "win32":
        import msvcrt

        handle.seek(0)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            if wait:
                raise
            return False
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        return True
    except BlockingIOError:
        return False
