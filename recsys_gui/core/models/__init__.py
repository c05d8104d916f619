"""Models: the contract and the registry (base.py), the list of the app's models (catalogue.py)."""

from recsys_gui.core.models.base import (
    BatchOptions,
    Capabilities,
    ModelConfig,
    Pretraining,
    Recommender,
    available_models,
    build_model,
    canonical_name,
    describe_model,
    get_model_class,
    make_config,
    register_model,
    unregister_model,
)

__all__ = [
    "BatchOptions", "Capabilities", "ModelConfig", "Pretraining", "Recommender", "available_models",
    "build_model", "canonical_name", "describe_model", "get_model_class", "make_config", "register_model",
    "unregister_model",
]
