"""The user's own data (a folder of images, an .npz file), always given as a path.

Without a separate test set, 1/6 of the images are held out as the test split
with a fixed seed, so the same files always give the same split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from aelab.data.base import DatasetStatus, PathLike
from aelab.data.policy import UNCHANGED, ImagePolicy
from aelab.data.split import ImageDataset, Split, split_validation
from aelab.errors import DataError

TEST_FRACTION = 1 / 6
TEST_SEED = 0

Reader = Callable[..., tuple[Split, Split, tuple[str, ...]]]  # (path[, policy]) -> (train, test, class names)


def carve_test(split: Split) -> tuple[Split, Split]:
    """(train, test) for data that comes without a test set."""
    return split_validation(split, TEST_FRACTION, TEST_SEED)


@dataclass(frozen=True)
class UserData:
    """A registry entry for data at a path the user gives: `reader` turns it into splits."""

    name: str
    reader: Reader
    expects: str  # e.g. 'a folder of PNG/JPEG images', for messages
    suffix: str | None = None  # a file with this suffix, or a folder when None
    reshapes: bool = False  # the reader applies an ImagePolicy (its second argument)

    def accepts(self, path: Path) -> bool:
        if self.suffix is None:
            return path.is_dir()
        return path.is_file() and path.suffix.lower() == self.suffix

    def load(self, data_dir: PathLike | None, *, download: bool = True, verify: bool = True,
             policy: ImagePolicy = UNCHANGED) -> ImageDataset:
        path = self.check_path(data_dir)
        if not self.reshapes:
            policy.refuse(self.expects)
        train, test, class_names = self.reader(path, policy) if self.reshapes else self.reader(path)
        return ImageDataset(self.name, train, test, class_names, str(path))

    def status(self, data_dir: PathLike | None) -> DatasetStatus:
        try:
            path = self.check_path(data_dir)
        except DataError as err:
            return DatasetStatus(self.name, False, None, str(err))
        return DatasetStatus(self.name, True, str(path), f"{self.expects}; read when loaded")

    def check_path(self, data_dir: PathLike | None) -> Path:
        if data_dir is None:
            raise DataError(f"dataset {self.name!r} reads your own data: pass --data-dir with {self.expects}")
        path = Path(data_dir).expanduser()
        if not self.accepts(path):
            found = "nothing" if not path.exists() else ("a folder" if path.is_dir() else "a file")
            raise DataError(
                f"dataset {self.name!r} expected {self.expects} at {path}, found {found}: "
                "pass --data-dir with the right path"
            )
        return path
