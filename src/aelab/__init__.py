"""aelab: train, evaluate and look inside autoencoders on images.

    import aelab
    config = aelab.make_config({"data.name": "fashion-mnist", "train.epochs": 2})
    run_dir = aelab.train(config, "runs/demo")
    model = aelab.load_model(run_dir)
    z = model.encode(x); x_hat = model.decode(z)
"""

from aelab.config import RunConfig, make_config
from aelab.data import load_dataset, list_datasets
from aelab.errors import AelabError
from aelab.models import Autoencoder, create_model, list_models
from aelab.pipeline import evaluate, load_model, resume, train

__version__ = "0.1.0"

__all__ = [
    "AelabError",
    "Autoencoder",
    "RunConfig",
    "create_model",
    "evaluate",
    "list_datasets",
    "list_models",
    "load_dataset",
    "load_model",
    "make_config",
    "resume",
    "train",
]
