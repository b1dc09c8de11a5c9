"""Autoencoder models: the contract (`Autoencoder`) and the registry of named models.

Adding a model is one file here: subclass `Autoencoder`, give it a config dataclass and
the `Capabilities` it has, and decorate it with `@register_model("name")`. Importing this
package imports every module in it, so each model registers itself.
"""

import importlib
import pkgutil

from aelab.models.base import Autoencoder, LossOutput, ModelConfig
from aelab.models.capabilities import Capabilities
from aelab.models.registry import build_model, create_model, list_models, model_config_class, register_model

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "Autoencoder",
    "Capabilities",
    "LossOutput",
    "ModelConfig",
    "build_model",
    "create_model",
    "list_models",
    "model_config_class",
    "register_model",
]
