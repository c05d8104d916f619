"""Model registry: explicit imports so every model registers itself (no string lookups)."""

from recsys_gui.core.models import baselines, cnn, gan, mf, mlp, neumf, sequential, vae
from recsys_gui.core.models.base import (
    Capabilities,
    ModelConfig,
    Recommender,
    available_models,
    build_model,
    canonical_name,
    describe_model,
    get_model_class,
    make_config,
    register_model,
)

__all__ = [
    "Capabilities", "ModelConfig", "Recommender", "available_models", "build_model", "canonical_name",
    "describe_model", "get_model_class", "make_config", "register_model",
]
