"""The sequence batcher: time order, left padding, prefixes/windows, no future leakage, rank sharding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_gui.core.data.interactions import InteractionData
from recsys_gui.core.data.sequences import (
    SequenceBatcher,
    last_items,
    sequence_order_warning,
    time_order,
)

CPU = torch.device("cpu")


def data(users, items, ts=None, n_users=None, n_items=None):
    users, items = np.asarray(users, np.int64), np.asarray(items, np.int64)
    nu = n_users or int(users.max()) + 1
    ni = n_items or int(items.max()) + 1
    return InteractionData(users, items, np.ones(len(users), np.float32),
                           None if ts is None else np.asarray(ts, np.int64),
                           pd.Index(range(nu)), pd.Index(range(ni)))


def all_batches(b: SequenceBatcher, epoch: int = 0):
    out = list(b.epoch(epoch))
    return (torch.cat([x.users for x in out]), torch.cat([x.items for x in out]),
            torch.cat([x.targets for x in out]))


def test_orders_by_time_then_item_id():
    # user 0: times 30, 10, 20, 10 on items 5, 7, 1, 3 → 3 (t10), 7 (t10), 1 (t20), 5 (t30)
    d = data([0, 0, 0, 0], [5, 7, 1, 3], ts=[30, 10, 20, 10], n_items=8)
    assert d.items[time_order(d)].tolist() == [3, 7, 1, 5]
    assert last_items(d, 6).tolist() == [[8, 8, 3, 7, 1, 5]]


def test_keyed_order_without_timestamps_and_warning():
    d = data([1, 0, 1, 0, 1], [4, 2, 0, 3, 1], n_items=5)
    got = last_items(d, 4).tolist()  # each user's own items, left-padded, in a keyed random order
    assert got[0][:2] == [5, 5] and sorted(got[0][2:]) == [2, 3]
    assert got[1][0] == 5 and sorted(got[1][1:]) == [0, 1, 4]
    assert sequence_order_warning(d) is not None
    assert sequence_order_warning(data([0], [0], ts=[1])) is None


def test_last_items_truncates_to_the_most_recent():
    d = data([0] * 5, [0, 1, 2, 3, 4], ts=[1, 2, 3, 4, 5])
    assert last_items(d, 3).tolist() == [[2, 3, 4]]


def test_prefixes_every_prefix_once_left_padded():
    d = data([0, 0, 0, 0, 1, 1], [0, 1, 2, 3, 4, 5], ts=[1, 2, 3, 4, 1, 2], n_items=6)
    b = SequenceBatcher(d, batch_size=100, device=CPU, seed=0, max_len=3, mode="prefixes")
    assert len(b) == 1 and b.n_examples == 3 + 1
    users, items, targets = all_batches(b)
    got = sorted((u, tuple(i), tuple(t))
                 for u, i, t in zip(users.tolist(), items.tolist(), targets.tolist(), strict=True))
    P = 6
    assert got == sorted([(0, (P, P, 0), (P, P, 1)), (0, (P, 0, 1), (P, P, 2)), (0, (0, 1, 2), (P, P, 3)),
                          (1, (P, P, 4), (P, P, 5))])


def test_windows_cover_each_target_once_with_shifted_inputs():
    seq = list(range(8))
    d = data([0] * 8, seq, ts=list(range(8)), n_items=10)
    b = SequenceBatcher(d, batch_size=100, device=CPU, seed=0, max_len=3, mode="windows")
    _, items, targets = all_batches(b)
    P = 10
    rows = sorted(zip(items.tolist(), targets.tolist(), strict=True))
    # targets 1..7 tiled back from the end: [5,6,7], [2,3,4], [1]
    assert rows == sorted([([4, 5, 6], [5, 6, 7]), ([1, 2, 3], [2, 3, 4]), ([P, P, 0], [P, P, 1])])
    t = targets[targets != P]
    assert sorted(t.tolist()) == list(range(1, 8))


@pytest.mark.parametrize("mode", ["windows", "prefixes"])
def test_no_future_leakage(mode):
    rng = np.random.default_rng(0)
    n = 400
    users = rng.integers(0, 15, n)
    ts = rng.permutation(n)  # unique times; items unique too (a bijection of time), so no ties
    items = (ts * 7919) % n  # ... but item ids do not sort like times
    d = data(users, items, ts=ts, n_users=15, n_items=n)
    order = time_order(d)
    seqs = {u: d.items[order[d.users[order] == u]].tolist() for u in range(15)}
    b = SequenceBatcher(d, batch_size=16, device=CPU, seed=1, max_len=6, mode=mode)
    seen = 0
    for batch in b.epoch(0):
        rows = zip(batch.users.tolist(), batch.items.tolist(), batch.targets.tolist(), strict=True)
        for u, its, tgs in rows:
            n_pad = sum(i == n for i in its)
            assert its[:n_pad] == [n] * n_pad and n not in its[n_pad:]  # left padded
            real = its[n_pad:]
            s0 = seqs[u].index(real[0])
            assert real == seqs[u][s0:s0 + len(real)]  # a contiguous run of the user's time order
            for j, t in enumerate(tgs):
                if t == n:
                    continue
                seen += 1
                k = j - n_pad
                assert k >= 0 and seqs[u][s0 + k + 1] == t  # the target is the next item after its[j]
    assert seen == sum(len(v) - 1 for v in seqs.values() if v) or mode == "prefixes"


def test_rank_sharding_partitions_an_epoch():
    rng = np.random.default_rng(2)
    d = data(rng.integers(0, 20, 500), rng.integers(0, 30, 500), ts=rng.permutation(500),
             n_users=20, n_items=30)
    whole = SequenceBatcher(d, batch_size=7, device=CPU, seed=5, max_len=4, mode="prefixes")
    parts = [SequenceBatcher(d, batch_size=7, device=CPU, seed=5, max_len=4, mode="prefixes", rank=r,
                             world_size=3) for r in range(3)]

    def key(u, i):
        return sorted(zip(u.tolist(), map(tuple, i.tolist()), strict=True))

    u0, i0, _ = all_batches(whole, 3)
    us, its = [], []
    for p in parts:
        u, i, _ = all_batches(p, 3)
        us.append(u)
        its.append(i)
    assert key(torch.cat(us), torch.cat(its)) == key(u0, i0)
    sizes = [u.numel() for u in us]
    assert max(sizes) - min(sizes) <= 2  # ceil-sized contiguous slices; the last may be shorter


def test_epochs_are_seeded_and_differ():
    rng = np.random.default_rng(3)
    d = data(rng.integers(0, 10, 200), rng.integers(0, 30, 200), ts=rng.permutation(200),
             n_users=10, n_items=30)
    a = SequenceBatcher(d, batch_size=8, device=CPU, seed=1, max_len=5)
    b = SequenceBatcher(d, batch_size=8, device=CPU, seed=1, max_len=5)
    assert torch.equal(all_batches(a, 0)[1], all_batches(b, 0)[1])
    assert not torch.equal(all_batches(a, 0)[1], all_batches(a, 1)[1])
    assert len(a) == -(-a.n_examples // 8)
    assert isinstance(a.generator, torch.Generator)


def test_without_timestamps_each_epoch_reads_a_users_items_in_a_new_order_within_the_user():
    """A fixed file order taught GRU4Rec and SASRec transitions that do not exist (below popularity
    on ml-1m); with no times to follow, each epoch shuffles inside every user's block instead."""
    rng = np.random.default_rng(3)
    users = np.repeat(np.arange(6), 12)
    items = np.concatenate([rng.choice(40, 12, replace=False) for _ in range(6)])
    d = data(users, items, n_users=6, n_items=40)
    b = SequenceBatcher(d, batch_size=100, device=CPU, seed=0, max_len=20, mode="windows")

    def sequences(epoch: int) -> dict[int, list[int]]:
        u, its, tgs = all_batches(b, epoch)
        out = {}
        for user, row, tgt in zip(u.tolist(), its.tolist(), tgs.tolist(), strict=True):
            real = [i for i in row if i != 40]
            out[user] = [*real, tgt[-1]]  # the window's inputs then its last target: the whole sequence
        return out

    e0, e1, e0_again = sequences(0), sequences(1), sequences(0)
    assert e0 == e0_again, "seeded by the epoch"
    for user in range(6):
        mine = sorted(items[users == user].tolist())
        assert sorted(e0[user]) == mine and sorted(e1[user]) == mine, "a user's own items, each once"
    assert sum(e0[u] != e1[u] for u in range(6)) >= 5, "a new order every epoch"

    timed = data(users, items, ts=np.arange(len(users)), n_users=6, n_items=40)
    tb = SequenceBatcher(timed, batch_size=100, device=CPU, seed=0, max_len=20, mode="windows")
    windows = [{tuple(r) for r in all_batches(tb, epoch)[1].tolist()} for epoch in (0, 1)]
    assert windows[0] == windows[1], "with timestamps the time order stays (only the batch order changes)"
