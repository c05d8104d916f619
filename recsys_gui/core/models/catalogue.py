"""Every model the app offers, in the order lists show them.

Adding a model is its own module plus one line in ``MODELS``; ``check_recommender``
(``training/model_checks.py``) tells whether it keeps the contract, and the contract tests run it
for every model listed here.
"""

from __future__ import annotations

from recsys_gui.core.models.base import Recommender
from recsys_gui.core.models.baselines import EASE, ItemKNN, Popularity
from recsys_gui.core.models.cnn import ConvNCF
from recsys_gui.core.models.gan import CFGAN
from recsys_gui.core.models.genre_pop import GenrePop
from recsys_gui.core.models.ials import IALS
from recsys_gui.core.models.mf import MF
from recsys_gui.core.models.mlp import MLP
from recsys_gui.core.models.neumf import NeuMF
from recsys_gui.core.models.sequential import GRU4Rec, SASRec
from recsys_gui.core.models.vae import MultVAE

MODELS: tuple[type[Recommender], ...] = (
    Popularity,
    ItemKNN,
    EASE,
    GenrePop,
    ConvNCF,
    CFGAN,
    MF,
    IALS,
    MLP,
    NeuMF,
    GRU4Rec,
    SASRec,
    MultVAE,
)
