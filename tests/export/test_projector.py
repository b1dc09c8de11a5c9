"""The Embedding Projector's files, read back by TensorBoard's own projector plugin."""

from __future__ import annotations

import numpy as np
from PIL import Image

from aelab.cli import main
from aelab.codes import encode
from aelab.export.projector import sprite


def plugin_client(logdir):
    from tensorboard.backend.application import TensorBoardWSGI
    from tensorboard.plugins.base_plugin import TBContext
    from tensorboard.plugins.projector.projector_plugin import ProjectorPlugin
    from werkzeug.test import Client

    plugin = ProjectorPlugin(TBContext(logdir=str(logdir)))
    return Client(TensorBoardWSGI([plugin])), plugin


def test_tensorboard_loads_the_codes_metadata_and_sprite(vae_run):
    assert main(["export", str(vae_run), "--format", "projector", "--points", "30"]) == 0
    client, _ = plugin_client(vae_run / "tensorboard")
    base = "/data/plugin/projector"
    assert client.get(f"{base}/runs").get_json() == ["."]
    config = client.get(f"{base}/info?run=.").get_json()
    (embedding,) = config["embeddings"]
    name = embedding["tensorName"]
    tensor = np.frombuffer(client.get(f"{base}/tensor", query_string={"run": ".", "name": name}).data, dtype=np.float32)
    expected = encode(vae_run, "test")
    np.testing.assert_allclose(tensor.reshape(30, -1), expected.codes[:30], rtol=1e-5)
    metadata = client.get(f"{base}/metadata", query_string={"run": ".", "name": name}).data.decode().splitlines()
    assert metadata[0] == "label\tclass" and metadata[1:] == [f"{y}\t{expected.class_names[y]}" for y in expected.labels[:30]]
    sheet = client.get(f"{base}/sprite_image", query_string={"run": ".", "name": name})
    assert sheet.status_code == 200 and embedding["sprite"]["singleImageDim"] == [28, 28]
    assert Image.open(vae_run / "tensorboard" / "sprite.png").size == (6 * 28, 5 * 28)


def test_the_sprite_is_filled_row_by_row():
    images = np.arange(5, dtype=np.uint8).reshape(5, 1, 1, 1).repeat(2, 2).repeat(2, 3)  # image i is all i
    sheet = sprite(images)
    assert sheet.shape == (4, 6)  # 3 columns, 2 rows of 2x2 images
    assert sheet[::2, ::2].tolist() == [[0, 1, 2], [3, 4, 0]]
