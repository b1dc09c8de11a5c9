"""Property-based tests (Hypothesis): any input to a reader or to config validation either
loads or raises aelab's own error, never another exception, never more memory than a bound.

Each reader gets valid files, files with random bytes changed, cut or appended, and files
built from random structure (shapes, dtypes, values). Memory is bounded by setting the
byte limit low (AELAB_MAX_BYTES) and measuring the peak with tracemalloc.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import struct
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aelab.checkpoint import load_weights, save_weights
from aelab.config import config_from_dict, load_config_file, make_config, valid_keys
from aelab.data import load_dataset
from aelab.data.cifar import read_batch, read_class_names
from aelab.data.idx import read_idx
from aelab.errors import AelabError
from aelab.models import create_model
from aelab.study.recipe import load_study
from tests.data.builders import py2_pickle

MAX_BYTES = 200_000  # the byte limit while fuzzing: every allocation a reader makes stays near it
MEMORY_BOUND = 8 * MAX_BYTES + 2**20  # the reader's copies of an array at most, plus Python's own
EXAMPLES = int(os.environ.get("AELAB_FUZZ_EXAMPLES", "60"))  # per property; raise it for a longer hunt
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


@pytest.fixture(autouse=True)
def low_limits(monkeypatch):
    monkeypatch.setenv("AELAB_MAX_BYTES", str(MAX_BYTES))
    monkeypatch.setenv("AELAB_MAX_CLASSES", "1000")
    monkeypatch.setenv("AELAB_MAX_IMAGE_PIXELS", "100000")


def loads_or_refuses(read, *args):
    """Run `read`: it may succeed or raise AelabError; anything else, or too much memory, fails."""
    tracemalloc.start()
    try:
        read(*args)
    except AelabError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"peak {peak:,} bytes"


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """`data` with a few bytes flipped, a cut, or junk appended."""
    data = bytearray(data)
    for _ in range(draw(st.integers(0, 4))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data) + draw(st.binary(max_size=16))


def write(data: bytes, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(suffix=suffix)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return Path(name)


# --- IDX ----------------------------------------------------------------------------------------
def idx_file(shape: tuple[int, ...], fill: int = 7) -> bytes:
    header = bytes([0, 0, 8, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    return header + bytes([fill]) * math.prod(shape)


@FUZZ
@given(st.data(), st.lists(st.integers(0, 2**32 - 1), min_size=3, max_size=3), st.booleans())
def test_idx_reader(data, shape, gz):
    small = [s % 9 for s in shape]
    payload = data.draw(st.sampled_from([idx_file(tuple(small)), idx_file(tuple(small))[:16] + struct.pack(">3I", *shape)]))
    payload = data.draw(mutated(payload))
    path = write(gzip.compress(payload) if gz else payload, ".gz" if gz else "")
    try:
        loads_or_refuses(read_idx, path, 3)
    finally:
        path.unlink()


# --- npz ------------------------------------------------------------------------------------------
DTYPES = st.sampled_from(["uint8", "float32", "float64", "int64", "uint64", "bool", "int8", "<U3", "complex64"])


@st.composite
def arrays(draw) -> np.ndarray:
    shape = tuple(draw(st.lists(st.integers(0, 6), max_size=4)))
    dtype = np.dtype(draw(DTYPES))
    values = draw(st.lists(st.integers(-(2**70), 2**70) | st.floats(allow_nan=True), min_size=1, max_size=4))
    flat = np.resize(np.array(values, dtype=object), math.prod(shape))
    try:
        return flat.astype(dtype).reshape(shape)
    except (OverflowError, ValueError, TypeError):
        return np.zeros(shape, dtype)


@FUZZ
@given(st.dictionaries(st.sampled_from(["images", "labels", "class_names", "x_train", "y_train", "x_test", "y_test"]),
                       arrays(), max_size=5), st.data())
def test_npz_reader(contents, data):
    buffer = io.BytesIO()
    np.savez(buffer, **contents) if data.draw(st.booleans()) else np.savez_compressed(buffer, **contents)
    raw = buffer.getvalue() if data.draw(st.booleans()) else data.draw(mutated(buffer.getvalue()))
    path = write(raw, ".npz")
    try:
        loads_or_refuses(load_dataset, str(path))
    finally:
        path.unlink()


# --- image folders -------------------------------------------------------------------------------
@FUZZ
@given(images=st.lists(st.tuples(st.integers(1, 400), st.integers(1, 400), st.sampled_from(["L", "RGB", "RGBA", "P", "1", "I;16"])),
                       min_size=1, max_size=3), data=st.data())
def test_image_folder_reader(tmp_path_factory, images, data):
    from PIL import Image

    folder = tmp_path_factory.mktemp("imgs")
    for i, (w, h, mode) in enumerate(images):
        buffer = io.BytesIO()
        Image.new(mode, (w, h)).save(buffer, format="PNG")
        raw = buffer.getvalue() if data.draw(st.booleans()) else data.draw(mutated(buffer.getvalue()))
        (folder / f"{i}.png").write_bytes(raw)
    loads_or_refuses(load_dataset, str(folder))


# --- CIFAR batches --------------------------------------------------------------------------------
LABEL_VALUES = st.integers(-(2**70), 2**70) | st.booleans() | st.floats() | st.text(st.characters(max_codepoint=255), max_size=2)  # py2 str


@FUZZ
@given(st.integers(0, 3), st.lists(LABEL_VALUES, max_size=4), st.lists(st.binary(max_size=6), max_size=4), st.data())
def test_cifar_batch_reader(rows, labels, names, data):
    batch = {b"data": np.zeros((rows, 3072), np.uint8), b"labels": labels}
    raw = data.draw(st.sampled_from([py2_pickle(batch), py2_pickle({b"label_names": names})]))
    path = write(data.draw(mutated(raw)) if data.draw(st.booleans()) else raw, "")
    try:
        loads_or_refuses(read_batch, path, 10)
        loads_or_refuses(read_class_names, path)
    finally:
        path.unlink()


# --- safetensors weights through aelab's loader ------------------------------------------------
@FUZZ
@given(st.data())
def test_weights_loader(data):
    model = create_model("mlp-ae", input_shape=(1, 4, 4), encoder_widths=(3,), latent_dim=2)
    path = write(b"", ".safetensors")
    save_weights(model, path)
    path.write_bytes(data.draw(mutated(path.read_bytes())))
    try:
        loads_or_refuses(load_weights, model, path)
    finally:
        path.unlink()


# --- config values, config.json and recipe files ---------------------------------------------
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


@FUZZ
@given(st.dictionaries(st.sampled_from(valid_keys(make_config().model.__class__)) | st.text(max_size=8), JSON_VALUES, max_size=4))
def test_config_validation(overrides):
    overrides.pop("data.name", None)  # a random name is looked up as a path; tested with the readers
    try:
        make_config(overrides)
    except AelabError:
        pass


@FUZZ
@given(JSON_VALUES, st.booleans())
def test_config_file_loader(value, as_sections):
    text = json.dumps({"train": value, "model": {"name": "conv-ae"}} if as_sections else value)
    path = write(text.encode(), ".json")
    try:
        load_config_file(path)
    except AelabError:
        pass
    finally:
        path.unlink()
    with pytest.raises(AelabError):
        config_from_dict({"train": {"epochs": 0}})


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return "nan" if value != value else ("inf" if value == math.inf else "-inf" if value == -math.inf else repr(value))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"


TOML_VALUES = st.recursive(
    st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.text(st.characters(codec="utf-8"), max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["ae", "set", "model", "train", "label", "x"]), inner, max_size=3),
    max_leaves=8,
)
RECIPE_KEYS = st.sampled_from(["title", "seed", "summary", "dataset", "datasets", "fallback", "runs", "params", "questions", "quick", "x"])


@FUZZ
@given(st.dictionaries(RECIPE_KEYS, TOML_VALUES, max_size=6), st.data())
def test_recipe_loader(table, data):
    text = "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in table.items())
    if data.draw(st.booleans()):
        text = data.draw(mutated(text.encode())).decode("utf-8", "replace")
    path = write(text.encode(), ".toml")
    try:
        load_study(str(path))
    except AelabError:
        pass
    finally:
        path.unlink()
