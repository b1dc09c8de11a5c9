"""Read the CIFAR-10 python batches without running any code they might carry.

`pickle.load` calls whatever a file names; this unpickler only hands out the
numpy pieces that an array needs and refuses everything else.
"""

from __future__ import annotations

import importlib
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from aelab.data.limits import refuse_if_over
from aelab.errors import DataError

# numpy 1 pickles name numpy.core.multiarray; numpy 2 names numpy._core.multiarray.
RECONSTRUCT_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")


def _reconstruct() -> Any:
    try:
        return importlib.import_module("numpy._core.multiarray")._reconstruct
    except ImportError:  # numpy < 1.26 has no numpy._core
        return importlib.import_module("numpy.core.multiarray")._reconstruct


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler whose only callables are numpy's array reconstruction and dtype."""

    def __init__(self, file: io.BufferedIOBase, source: Path):
        super().__init__(file, encoding="bytes")  # CIFAR batches are Python 2 pickles
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if module in RECONSTRUCT_MODULES and name == "_reconstruct":
            return _reconstruct()
        if module == "numpy" and name == "ndarray":
            return np.ndarray
        if module == "numpy" and name == "dtype":
            return np.dtype
        raise DataError(
            f"{self.source} asks to run {module}.{name}, expected only numpy arrays; refusing to "
            "load it: delete it and re-download, or pass --data-dir to use a trusted copy"
        )


def load_batch(path: Path) -> dict[bytes, Any]:
    """The dict stored in one CIFAR batch file (keys are bytes, e.g. b'data')."""
    try:
        size = path.stat().st_size
        refuse_if_over("max_bytes", size, f"{path}: its size")
        # From memory, not the file: reading a file, the unpickler allocates whatever length a
        # string claims (4 GiB from a 200-byte file); from bytes it gets at most what is there.
        obj = NumpyOnlyUnpickler(io.BytesIO(path.read_bytes()), path).load()
    except DataError:
        raise
    except Exception as err:  # a damaged pickle can raise nearly anything
        raise DataError(
            f"{path} is not a readable CIFAR batch ({type(err).__name__}: {err}): delete it to "
            "re-download, or pass --data-dir to use another copy"
        ) from None
    if not isinstance(obj, dict):
        raise DataError(f"{path} holds a {type(obj).__name__}, expected a dict: delete it to re-download")
    return obj
