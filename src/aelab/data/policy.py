"""How images of mixed sizes and modes are brought to one shape as they are decoded.

    ImagePolicy(size=(64, 64), fit="crop", channels=3)   # data.image_size, data.fit, data.channels

`resize` stretches every image to `size`; `crop` scales the shorter side to fit and
cuts the centre (CelebA's usual 64x64 faces); `pad` scales the longer side to fit and
fills the rest with black. The policy is part of the run's config, so an analysis
decodes the same pixels the model was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageOps

from aelab.errors import DataError

Fit = Literal["resize", "crop", "pad"]
MODES = {1: "L", 3: "RGB"}
RESAMPLE = Image.Resampling.BICUBIC


@dataclass(frozen=True)
class ImagePolicy:
    size: tuple[int, int] | None = None  # (h, w); None keeps each image's own size, which must then agree
    fit: Fit = "resize"
    channels: Literal[1, 3] | None = None  # None keeps each image's own (grey or RGB), which must then agree

    @property
    def reshapes(self) -> bool:
        return self.size is not None or self.channels is not None

    def refuse(self, what: str) -> None:
        """A DataError when the policy asks to reshape data that comes in one fixed shape."""
        if self.reshapes:
            raise DataError(
                f"data.image_size / data.channels ({self.size}, {self.channels}) reshape image folders as they are "
                f"decoded, but {what} comes in one fixed shape: leave them unset for this dataset"
            )

    def apply(self, image: Image.Image) -> Image.Image:
        """`image` (in L or RGB) converted and fitted to the policy."""
        if self.channels is not None:
            image = image.convert(MODES[self.channels])
        if self.size is None or image.size == (self.size[1], self.size[0]):
            return image
        width_height = (self.size[1], self.size[0])
        if self.fit == "crop":
            return ImageOps.fit(image, width_height, method=RESAMPLE)
        if self.fit == "pad":
            return ImageOps.pad(image, width_height, method=RESAMPLE, color=0)
        return image.resize(width_height, RESAMPLE)

    def draft(self, image: Image.Image) -> None:
        """Let a JPEG decode at a reduced scale that still covers `size` (2-4x faster for photos)."""
        if self.size is not None and image.format == "JPEG":
            image.draft(image.mode, (self.size[1], self.size[0]))


UNCHANGED = ImagePolicy()  # every image as it is decoded: sizes and modes must already agree
