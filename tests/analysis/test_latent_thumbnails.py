"""The latent map's thumbnails: one test image per grid cell, never two in one cell, each at its point."""

from __future__ import annotations

import numpy as np

from aelab.analysis import ANALYSES
from aelab.analysis.latent_map import thumbnail_cells


def test_one_point_per_occupied_cell_the_one_nearest_its_centre():
    xy = np.array([[0.0, 0.0], [0.4, 0.4], [0.5, 0.5], [3.9, 3.9], [2.0, 0.1], [4.0, 4.0]])
    chosen = thumbnail_cells(xy, 4)  # cells of 1 x 1 over [0, 4]^2
    # cell (0, 0): (0.5, 0.5) sits on its centre; cell (3, 3): (3.9, 3.9) is nearer (3.5, 3.5) than the corner (4, 4)
    assert chosen == [2, 3, 4]
    cells = {tuple(np.minimum((xy[i] / 1.0).astype(int), 3)) for i in chosen}
    assert len(cells) == len(chosen)


def test_the_map_draws_one_image_a_cell_for_any_code(contexts):
    for code in ("vector", "plane"):
        ctx = contexts[code]
        result = ANALYSES.get("latent_map").run(ctx, tsne_count=60, thumbnails=5)
        figure = dict(result.figures)["thumbnails"]
        images = figure.axes[0].get_images()
        assert 1 <= len(images) <= 25 and all(im.get_array().shape[:2] == ctx.image_shape[1:] for im in images)
    assert "thumbnails" not in dict(ANALYSES.get("latent_map").run(contexts["vector"], tsne_count=60, thumbnails=0).figures)
