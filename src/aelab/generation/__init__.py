"""What a model generates, measured: samplers for every model and offline FID, KID,
precision/recall and density/coverage in a feature space trained on the dataset itself.

    from aelab.generation import fit_mixture, sample, score
    mixture = fit_mixture(train_codes)                       # ex-post density estimation
    images = sample(model, 1000, "gmm", mixture=mixture)     # or "prior" for VAEs
"""

from aelab.generation.evaluate import GenerationConfig, format_scores, generation_scores
from aelab.generation.features import FeatureNetConfig, FeatureSpace, feature_space
from aelab.generation.samplers import CodeMixture, MixtureConfig, available_samplers, fit_mixture, load_mixture, sample
from aelab.generation.scores import Scores, score

__all__ = ["CodeMixture", "FeatureNetConfig", "FeatureSpace", "GenerationConfig", "MixtureConfig", "Scores", "available_samplers",
           "feature_space", "fit_mixture", "format_scores", "generation_scores", "load_mixture", "sample", "score"]
