"""Safe extraction of a downloaded tar or zip archive: nothing may land outside the target folder."""

from __future__ import annotations

import os
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from aelab.errors import DataError

FIX = "delete it to re-download, or pass --data-dir to use another copy"


def check_name(archive: Path, name: str) -> None:
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith(("/", "\\")) or ".." in path.parts:
        raise DataError(f"{archive} contains {name!r}, a path outside its folder: {FIX}")


def check_member(archive: Path, member: tarfile.TarInfo) -> None:
    """Only plain files and folders with relative paths that stay inside the folder."""
    check_name(archive, member.name)
    if not (member.isfile() or member.isdir()):
        raise DataError(
            f"{archive} contains {member.name!r}, which is a link or special file, expected "
            f"only files and folders: {FIX}"
        )


def extract_folder(archive: Path, folder: str, dest: Path) -> Path:
    """Extract `archive`, which must hold `folder`, as dest/folder; return that path.

    Extraction goes to a temporary folder beside the target first, so an
    interrupted run never leaves a half-extracted `folder`.
    """
    target = dest / folder
    if target.exists():
        raise DataError(f"{target} exists but is incomplete: delete it so {archive} can be extracted again")
    dest.mkdir(parents=True, exist_ok=True)
    kind = "zip" if zipfile.is_zipfile(archive) else "tar"
    with tempfile.TemporaryDirectory(prefix=f".{folder}.", dir=dest) as tmp:
        try:
            if kind == "zip":
                extract_zip(archive, Path(tmp))
            else:
                with tarfile.open(archive, "r:*") as tar:
                    members = tar.getmembers()
                    for member in members:
                        check_member(archive, member)
                    extract_members(tar, members, Path(tmp))
        except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError, zlib.error) as err:
            raise DataError(f"{archive} is not a complete {kind} archive ({err}): {FIX}") from None
        if not (Path(tmp) / folder).is_dir():
            raise DataError(f"{archive} has no folder {folder!r}, expected the upstream layout: {FIX}")
        os.replace(Path(tmp) / folder, target)
    return target


def extract_members(tar: tarfile.TarFile, members: list[tarfile.TarInfo], dest: Path) -> None:
    if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4 and patched 3.8+: a second line of defence
        tar.extractall(dest, members=members, filter="data")
    else:
        tar.extractall(dest, members=members)


def extract_zip(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for name in zf.namelist():
            check_name(archive, name)
        zf.extractall(dest)
