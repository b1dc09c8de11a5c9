"""Autoencoder models: the contract (`Autoencoder`) and the registry of named models.

Adding a model is one file: subclass `Autoencoder`, give it a config dataclass,
decorate it with `@register_model("name")`, and import the file below.
"""

from aelab.models.base import Autoencoder, LossOutput, ModelConfig
from aelab.models.registry import build_model, create_model, list_models, model_config_class, register_model

# Each import registers its models.
from aelab.models import conv_ae, conv_presets, mlp_ae, mmd_vae, vae, wta  # noqa: E402,F401  isort: skip

__all__ = [
    "Autoencoder",
    "LossOutput",
    "ModelConfig",
    "build_model",
    "create_model",
    "list_models",
    "model_config_class",
    "register_model",
]
