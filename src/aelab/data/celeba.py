"""CelebA in its official aligned-and-cropped layout: 202,599 JPEG faces of 178x218 and their partition.

    celeba/img_align_celeba/000001.jpg ... (or img_align_celeba.zip, extracted on first use)
    celeba/list_eval_partition.txt        "000001.jpg 0" per line: 0 train, 1 validation, 2 test

The partition file and the archive are checked by their official md5 (as torchvision
checks them); every image the partition names must be there. Train is partition 0 and
test partition 2; the official validation images (1) are left out, since aelab carves its
own validation split from train (data.val_fraction). The faces are decoded once into the
image cache, usually as `--set data.image_size=[64,64] --set data.fit=crop`. CelebA is
served from Google Drive behind a confirmation page, so it is never downloaded for you.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aelab.data.archive import extract_folder
from aelab.data.base import register
from aelab.data.checksums import check_digest, file_digest
from aelab.data.image_folder import cached_splits
from aelab.data.policy import ImagePolicy
from aelab.data.sources import Downloadable
from aelab.data.split import ImageDataset
from aelab.errors import DataError

TRAIN, VALIDATION, TEST = "0", "1", "2"


@dataclass(frozen=True)
class CelebAFiles:
    name: str = "celeba"
    images: str = "img_align_celeba"
    archive: str = "img_align_celeba.zip"
    archive_md5: str = "00d2c5bc6d35e252742224ab0c1e8fcb"
    partition: str = "list_eval_partition.txt"
    partition_md5: str = "d32c9cbf5e040fd4025c592c306e6668"
    url: str = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
    hint: str = "CelebA is never downloaded for you (Google Drive asks a person to confirm): fetch the two files by hand."

    def inventory(self, folder: Path) -> tuple[list[str], list[str]]:
        has_images = (folder / self.images).is_dir() or (folder / self.archive).is_file()
        wanted = {f"{self.images}/ (or {self.archive})": has_images, self.partition: (folder / self.partition).is_file()}
        return [n for n, ok in wanted.items() if ok], [n for n, ok in wanted.items() if not ok]

    def read(self, folder: Path, *, verify: bool, policy: ImagePolicy) -> ImageDataset:
        if verify:
            check_digest(folder / self.partition, "md5", self.partition_md5, file_digest(folder / self.partition, "md5"))
        images = folder / self.images
        if not images.is_dir():
            if verify:
                check_digest(folder / self.archive, "md5", self.archive_md5, file_digest(folder / self.archive, "md5"))
            images = extract_folder(folder / self.archive, self.images, folder)
        parts = read_partition(folder / self.partition)
        listing = {part: [(images / name, None) for name in names] for part, names in parts.items()}
        missing = [path for files in listing.values() for path, _ in files if not path.is_file()]
        if missing:
            raise DataError(f"{folder / self.partition} names {len(missing):,} images missing from {images}, e.g. "
                            f"{missing[0].name}: extract {self.archive} again (or download it from {self.url})")
        train, test, _ = cached_splits(images, listing.get(TRAIN, []), listing.get(TEST, []), (), policy)
        return ImageDataset(self.name, train, test, (), str(images))

    def fetch(self, folder: Path, *, verify: bool) -> None:
        raise DataError(f"CelebA cannot be downloaded for you (it is served from Google Drive): download "
                        f"{self.archive} and {self.partition} from {self.url} into {folder}")

    def wanted(self) -> str:
        return f"{self.images}/ (or {self.archive}) and {self.partition}"

    def origin(self) -> str:
        return self.url


def read_partition(path: Path) -> dict[str, list[str]]:
    """Image names by partition ('0', '1', '2'), in the file's order."""
    parts: dict[str, list[str]] = {TRAIN: [], VALIDATION: [], TEST: []}
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in parts or "/" in fields[0] or fields[0].startswith("."):
            raise DataError(f"{path} line {number} is {line[:80]!r}, expected 'IMAGE.jpg 0|1|2': "
                            "restore the official file")
        parts[fields[1]].append(fields[0])
    if not parts[TRAIN]:
        raise DataError(f"{path} names no training images (partition 0): restore the official file")
    return parts


register(Downloadable(CelebAFiles(), reshapes=True))
