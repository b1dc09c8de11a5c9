"""`aelab export RUN --format projector`: the test codes for TensorBoard's Embedding Projector.

Into RUN/tensorboard (where the event files of `train.log = ["tensorboard"]` go too):
    codes.tsv        one test code per line (posterior means for VAEs)
    metadata.tsv     a header, then each code's label and class name
    sprite.png       the test images in a square grid, row by row, one cell per code
    projector_config.pbtxt   ties them together (written by tensorboard's own `visualize_embeddings`)
`tensorboard --logdir RUN/tensorboard` then shows the codes in 3-D (PCA, t-SNE, UMAP) with their images.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from aelab.errors import AelabError
from aelab.io import atomic_path, write_text

SPRITE_MAX_PIXELS = 8192  # the Projector draws a sprite sheet of at most 8192 x 8192 pixels


def export_projector(run_dir: str | Path, out: str | Path | None = None, *, points: int = 10000, device: str = "cpu") -> Path:
    """Write the Projector's files for the first `points` test images (fewer where the sprite
    sheet would pass 8192 pixels a side); return the folder."""
    try:
        from tensorboard.plugins import projector
    except ImportError:
        raise AelabError("the Embedding Projector's files are TensorBoard's format: pip install 'aelab[tensorboard]'.") from None
    from PIL import Image

    from aelab.codes import encode
    from aelab.config import load_config_file
    from aelab.loading import prepare_data
    from aelab.run_files import PROJECTOR_CODES, PROJECTOR_METADATA, PROJECTOR_SPRITE, RunFiles

    run = RunFiles(Path(run_dir)).require()
    folder = Path(out) if out else run.tensorboard
    config = load_config_file(run.config)
    _, splits = prepare_data(config.data, config.train.seed)
    codes = encode(run.root, "test", device=device)
    side = splits.test.images.shape[-1]
    n = min(points, len(codes.codes), (SPRITE_MAX_PIXELS // max(splits.test.images.shape[-2:])) ** 2)
    if n < 1:
        raise AelabError(f"{run.root} has no test images to show: the Projector needs at least one.")
    labels = codes.labels[:n] if codes.labels is not None else None
    lines = ["label\tclass"] + ([f"{y}\t{codes.class_names[y]}" for y in labels] if labels is not None else ["-\t-"] * n)
    with atomic_path(folder / PROJECTOR_CODES) as tmp:
        np.savetxt(tmp, codes.codes[:n], delimiter="\t", fmt="%.6g")
    write_text(folder / PROJECTOR_METADATA, "\n".join(lines) + "\n")
    with atomic_path(folder / PROJECTOR_SPRITE) as tmp:
        Image.fromarray(sprite(splits.test.images[:n].numpy())).save(tmp, format="PNG")
    settings = projector.ProjectorConfig()
    embedding = settings.embeddings.add()
    embedding.tensor_name = f"{run.root.name} test codes"
    embedding.tensor_path, embedding.metadata_path = PROJECTOR_CODES, PROJECTOR_METADATA
    embedding.sprite.image_path = PROJECTOR_SPRITE
    embedding.sprite.single_image_dim.extend([side, splits.test.images.shape[-2]])  # width, height
    projector.visualize_embeddings(str(folder), settings)
    return folder


def sprite(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) uint8 -> one (rows * H, cols * W[, 3]) sheet, a square grid filled row by
    row, as the Projector reads it; unused cells stay black."""
    n, c, h, w = images.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    cells = np.zeros((rows * cols, h, w, c), dtype=np.uint8)
    cells[:n] = images.transpose(0, 2, 3, 1)
    sheet = cells.reshape(rows, cols, h, w, c).transpose(0, 2, 1, 3, 4).reshape(rows * h, cols * w, c)
    return sheet[..., 0] if c == 1 else sheet
