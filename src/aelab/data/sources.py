"""Where dataset files are looked for, and the download when they are nowhere.

Search order: an explicit data_dir, $AELAB_DATA_DIR, the user cache
(~/.cache/aelab, honouring XDG_CACHE_HOME), then system folders such as
/usr/share/datasets (Debian's dataset-* packages). Each root R is searched as
R/<name>/ and as R/ itself; a folder counts only if it has every required file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

from aelab.data.base import DatasetStatus, PathLike
from aelab.data.policy import UNCHANGED, ImagePolicy
from aelab.data.split import ImageDataset
from aelab.errors import DataError

ENV_VAR = "AELAB_DATA_DIR"
SYSTEM_DIRS: tuple[Path, ...] = (Path("/usr/share/datasets"),)
CACHE_NAME = "aelab"


class FileSet(Protocol):
    """The files of one downloadable dataset: how to check, read and fetch them."""

    name: str

    def inventory(self, folder: Path) -> tuple[list[str], list[str]]:
        """(present, missing) required files in `folder`; complete when nothing is missing."""
        ...

    def read(self, folder: Path, *, verify: bool) -> ImageDataset: ...

    def fetch(self, folder: Path, *, verify: bool) -> None:
        """Download whatever `folder` lacks into it."""
        ...

    def wanted(self) -> str:
        """The required files, for messages: 'train-images-idx3-ubyte[.gz], ...'."""
        ...

    def origin(self) -> str:
        """Where downloads come from, for messages."""
        ...


@dataclass(frozen=True)
class Root:
    path: Path
    origin: str  # why it is searched: '--data-dir', 'AELAB_DATA_DIR', ...


@dataclass(frozen=True)
class Search:
    folder: Path | None  # the first complete folder, if any
    looked: list[str]
    partial: list[str]  # 'folder (has a; missing b)' for incomplete copies


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / CACHE_NAME


def search_roots(data_dir: PathLike | None, system_dirs: Sequence[Path] | None = None) -> list[Root]:
    roots = []
    if data_dir is not None:
        roots.append(Root(Path(data_dir).expanduser(), "--data-dir"))
    if os.environ.get(ENV_VAR):
        roots.append(Root(Path(os.environ[ENV_VAR]).expanduser(), ENV_VAR))
    roots.append(Root(cache_root(), "user cache"))
    for folder in SYSTEM_DIRS if system_dirs is None else system_dirs:
        roots.append(Root(Path(folder), "system folder"))
    return roots


def locate(files: FileSet, roots: Sequence[Root]) -> Search:
    looked, partial, seen = [], [], set()
    for root in roots:
        for folder in (root.path / files.name, root.path):
            if folder in seen:
                continue
            seen.add(folder)
            looked.append(f"{folder} ({root.origin})")
            present, missing = files.inventory(folder) if folder.is_dir() else ([], ["all"])
            if not missing:
                return Search(folder, looked, partial)
            if present:
                partial.append(f"{folder} (has {', '.join(present)}; missing {', '.join(missing)})")
    return Search(None, looked, partial)


def check_data_dir(data_dir: PathLike | None) -> None:
    """A --data-dir that is not a folder, where nothing will be downloaded into it, is a mistake to
    report, not a root to skip silently."""
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        raise DataError(f"--data-dir {data_dir} is not an existing folder: check the path (or leave it out to "
                        f"search {ENV_VAR}, the user cache and the system folders)")


def download_folder(name: str, data_dir: PathLike | None) -> Path:
    """data_dir/<name> (or data_dir itself if so named) when given, else the user cache."""
    if data_dir is None:
        return cache_root() / name
    data_dir = Path(data_dir).expanduser()
    return data_dir if data_dir.name == name else data_dir / name


def missing_message(files: FileSet, search: Search, data_dir: PathLike | None, download_error: str | None = None) -> str:
    """One short paragraph: what is wrong (incomplete here, not found, the download failed and why),
    where it looked, and the fix; the reason comes first, in one sentence, so a note can quote it."""
    if search.partial:
        reason = f"dataset {files.name!r} is incomplete in {'; '.join(search.partial)}"
    else:
        reason = f"dataset {files.name!r} was not found"
    reason += f" and could not be downloaded ({download_error})." if download_error else ", and downloads are off."
    looked = [entry for entry in search.looked if entry.split(" (")[0].endswith(f"/{files.name}")] or search.looked
    fix = f"Fix: pass --data-dir (or set {ENV_VAR}) to a folder with {files.wanted()}"
    fix += ", or connect to the network and run it again." if download_error else \
        f", or allow downloads (from {files.origin()}, into {download_folder(files.name, data_dir)})."
    hint = f" {files.hint}" if getattr(files, "hint", "") else ""
    return f"{reason} Looked in {', '.join(looked)}. {fix}{hint}"


@dataclass(frozen=True)
class Downloadable:
    """A registry entry for a dataset found on disk or downloaded: see the module docstring."""

    files: FileSet
    alias: str | None = None  # register under this name; files are still looked for under files.name
    reshapes: bool = False  # files.read takes an ImagePolicy (photos of any size); else one fixed shape

    @property
    def name(self) -> str:
        return self.alias or self.files.name

    def load(self, data_dir: PathLike | None, *, download: bool = True, verify: bool = True,
             policy: ImagePolicy = UNCHANGED) -> ImageDataset:
        if not self.reshapes:
            policy.refuse(f"dataset {self.name!r}")
        if not download:  # with downloads allowed, a new --data-dir is where they go
            check_data_dir(data_dir)
        search = locate(self.files, search_roots(data_dir))
        folder = search.folder
        if folder is None:
            if not download:
                raise DataError(missing_message(self.files, search, data_dir))
            folder = download_folder(self.name, data_dir)
            try:
                self.files.fetch(folder, verify=verify)
            except DataError as err:
                raise DataError(missing_message(self.files, search, data_dir, download_error=str(err))) from None
        try:
            if self.reshapes:
                return self.files.read(folder, verify=verify, policy=policy)
            return self.files.read(folder, verify=verify)
        except DataError as err:
            raise DataError(f"cannot load dataset {self.name!r}: {err}") from None

    def status(self, data_dir: PathLike | None) -> DatasetStatus:
        try:
            check_data_dir(data_dir)
        except DataError as err:
            return DatasetStatus(self.name, False, None, str(err))
        search = locate(self.files, search_roots(data_dir))
        if search.folder is None:
            return DatasetStatus(self.name, False, None, missing_message(self.files, search, data_dir))
        return DatasetStatus(self.name, True, str(search.folder), "complete; checksums are verified on load")
