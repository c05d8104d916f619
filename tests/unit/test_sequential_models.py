"""GRU4Rec and SASRec: registration, causality, the scoring context, and that they learn an order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_gui.core.config import TrainConfig
from recsys_gui.core.data.interactions import InteractionData, Split
from recsys_gui.core.data.sequences import SequenceBatch, last_items
from recsys_gui.core.models import build_model, canonical_name, get_model_class
from recsys_gui.core.models.base import Recommender
from recsys_gui.core.training.trainer import Trainer

NAMES = ["gru4rec", "sasrec"]
SMALL = {"embedding_dim": 16, "max_len": 8, "dropout": 0.0}


def cyclic_split(n_users: int = 40, n_items: int = 12, length: int = 14) -> Split:
    """Each user walks the item cycle 0→1→…→11→0 from a random start: the next item is known."""
    rng = np.random.default_rng(0)
    users, items, ts = [], [], []
    for u in range(n_users):
        s = int(rng.integers(n_items))
        for k in range(length):
            users.append(u)
            items.append((s + k) % n_items)
            ts.append(1000 * u + k)
    users_a, items_a, ts_a = (np.asarray(a, np.int64) for a in (users, items, ts))
    d = InteractionData(users_a, items_a, np.ones(len(users_a), np.float32), ts_a,
                        pd.Index(range(n_users)), pd.Index(range(n_items)))
    k = np.tile(np.arange(length), n_users)
    return Split(d.subset(k < length - 2), d.subset(k == length - 2), d.subset(k == length - 1),
                 protocol="cyc")


@pytest.mark.parametrize("name,aliases",
                         [("gru4rec", ("gru", "rnn")), ("sasrec", ("attention", "transformer"))])
def test_registered_with_aliases(name, aliases):
    cls = get_model_class(name)
    assert cls.family == "Sequential" and cls.capabilities.batch_kind == "sequences"
    assert not cls.capabilities.scoring_needs_history
    for a in aliases:
        assert canonical_name(a) == name


@pytest.mark.parametrize("name", NAMES)
def test_outputs_are_causal(name):
    torch.manual_seed(0)
    m = build_model(name, SMALL, 3, 12).eval()
    x = torch.tensor([[12, 12, 1, 2, 3, 4, 5, 6]])
    y = x.clone()
    y[0, -1] = 9  # change only the last item
    hx, hy = m.encode(x), m.encode(y)
    torch.testing.assert_close(hx[:, :-1], hy[:, :-1])
    assert not torch.allclose(hx[:, -1], hy[:, -1])


@pytest.mark.parametrize("name", NAMES)
def test_set_context_moves_the_sequence_and_checkpoints_keep_it(name):
    split = cyclic_split()
    m = build_model(name, SMALL, split.n_users, split.n_items)
    m.prepare(split.train)
    torch.testing.assert_close(m.sequences, last_items(split.train, 8))
    m.set_context(split.known_for_test())
    assert torch.equal(m.sequences[:, -1], torch.as_tensor(split.valid.items[np.argsort(split.valid.users)]))
    back = Recommender.from_checkpoint(m.to_checkpoint())
    assert torch.equal(back.sequences, m.sequences)


@pytest.mark.parametrize("name", NAMES)
def test_loss_ignores_padding_targets(name):
    torch.manual_seed(0)
    m = build_model(name, SMALL, 2, 12)
    items = torch.tensor([[12, 12, 12, 12, 12, 12, 0, 1]])
    t_all = torch.tensor([[12, 12, 12, 12, 12, 12, 1, 2]])
    loss = m(SequenceBatch(torch.tensor([0]), items, t_all))["loss"]
    assert torch.isfinite(loss)


@pytest.mark.parametrize("name", NAMES)
def test_learns_the_next_item_and_ranks_test_after_valid(name):
    torch.manual_seed(0)
    split = cyclic_split()
    m = build_model(name, SMALL, split.n_users, split.n_items)
    cfg = TrainConfig(epochs=20, batch_size=8, lr=3e-2, seed=0, device="cpu", early_stop_metric=None)
    Trainer(cfg).fit(m, split, torch.device("cpu"))
    m.eval()
    users = torch.arange(split.n_users)
    order = np.argsort(split.valid.users)
    with torch.no_grad():
        top_valid = m.score(users, None).argmax(1)  # context = train: the next item is the valid one
        assert (top_valid.numpy() == split.valid.items[order]).mean() > 0.9
        m.set_context(split.known_for_test())
        top_test = m.score(users, None).argmax(1)
        assert (top_test.numpy() == split.test.items[np.argsort(split.test.users)]).mean() > 0.9
        assert m.user_embeddings(users, None).shape == (split.n_users, 16)
        assert m.item_embeddings().shape == (split.n_items, 16)


def test_set_context_cache_survives_a_checkpoint_load():
    split = cyclic_split()
    m = build_model("gru4rec", SMALL, split.n_users, split.n_items)
    m.set_context(split.train)
    train_state = {k: v.clone() for k, v in m.state_dict().items()}
    m.set_context(split.known_for_test())
    test_seqs = m.sequences.clone()
    m.set_context(split.known_for_test())  # cached: same object, same buffer
    assert torch.equal(m.sequences, test_seqs)
    m.load_state_dict(train_state)  # the buffer changed under the cache
    known = m._context_cache[0]
    m.set_context(known)
    assert torch.equal(m.sequences, test_seqs)
