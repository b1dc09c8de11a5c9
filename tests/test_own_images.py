"""An own-image folder of mixed sizes and modes trains, is analysed and explored, end to end through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aelab.cli import main
from aelab.documents import AnalysisDocument


def photo_folder(root: Path, n: int = 60) -> Path:
    """Two classes (a bright square top-left or bottom-right) of colour and grey PNG/JPEG images, 20..80 pixels."""
    rng = np.random.default_rng(0)
    for i in range(n):
        w, h = rng.integers(20, 80, 2)
        array = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
        label = i % 2
        array[label * h // 2 : label * h // 2 + h // 2, label * w // 2 : label * w // 2 + w // 2] = (200, 120 * label, 60)
        image = Image.fromarray(array).convert("L" if i % 5 == 0 else "RGB")
        path = root / f"class{label}" / f"{i}.{'jpg' if i % 3 == 0 else 'png'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path)
    return root


@pytest.mark.slow  # trains, then runs every analysis: ~15 s
def test_mixed_photo_folder_trains_and_is_analysed(tmp_path: Path):
    data, run = photo_folder(tmp_path / "photos"), tmp_path / "run"
    policy = ["--set", "data.image_size=[32,32]", "--set", "data.fit=crop", "--set", "data.channels=3"]
    assert main(["train", "--dataset", str(data), "--model", "vae", "--epochs", "1", "--out", str(run), "--no-progress", *policy]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["image_size"] == [32, 32] and config["model"]["input_shape"] == [3, 32, 32]
    assert main(["analyze", str(run), "--skip", "generation"]) == 0
    outcomes = AnalysisDocument.read(run / "analysis.json")
    assert outcomes.entry("latent_map") and (run / "analysis" / "reconstructions-pairs.png").is_file()
    assert main(["explore", str(run)]) == 0 and (run / "explore.html").stat().st_size > 0
