"""aelab: train, evaluate and look inside autoencoders on images.

    import aelab
    config = aelab.make_config({"data.name": "fashion-mnist", "train.epochs": 2})
    run_dir = aelab.train(config, "runs/demo")
    model = aelab.load_model(run_dir)
    z = model.encode(x); x_hat = model.decode(z)

The public names are imported on first use (PEP 562), so `import aelab` and
`aelab --help` do not pay for torch and matplotlib, and `aelab.report` stays torch-free.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it, in pipeline order
_PUBLIC = {
    "AelabError": "aelab.errors",
    "RunConfig": "aelab.config",
    "make_config": "aelab.config",
    "list_datasets": "aelab.data",
    "load_dataset": "aelab.data",
    "Autoencoder": "aelab.models",
    "create_model": "aelab.models",
    "list_models": "aelab.models",
    "train": "aelab.pipeline",
    "resume": "aelab.pipeline",
    "evaluate": "aelab.pipeline",
    "load_model": "aelab.loading",
    "encode": "aelab.codes",
    "Codes": "aelab.codes",
    "analyze": "aelab.analysis",
    "export_onnx": "aelab.export.to_onnx",
    "run_study": "aelab.study",
}

__all__ = sorted(_PUBLIC)

if TYPE_CHECKING:
    from aelab.analysis import analyze
    from aelab.codes import Codes, encode
    from aelab.config import RunConfig, make_config
    from aelab.data import list_datasets, load_dataset
    from aelab.errors import AelabError
    from aelab.export.to_onnx import export_onnx
    from aelab.loading import load_model
    from aelab.models import Autoencoder, create_model, list_models
    from aelab.pipeline import evaluate, resume, train
    from aelab.study import run_study


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'aelab' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))


class _Package(types.ModuleType):
    """Keeps `aelab.train` and `aelab.evaluate` the functions: importing the modules of the
    same name (aelab/train.py, aelab/evaluate.py) would otherwise bind them over the names."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _PUBLIC and isinstance(value, types.ModuleType):
            return  # the module stays reachable in sys.modules
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
