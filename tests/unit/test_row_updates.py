"""Row-wise updates for large embedding tables: the fast paths against their plain references, and MF
choosing them where they pay."""

from __future__ import annotations

import pytest
import torch

from recsys_gui.core.config import TrainConfig
from recsys_gui.core.data.batching import PairBatch, PositiveIndex, sample_negatives
from recsys_gui.core.evaluation.evaluator import Evaluator
from recsys_gui.core.models import kernels
from recsys_gui.core.models.base import StepContext, build_model
from recsys_gui.core.models.mf import MF
from recsys_gui.core.models.row_updates import ROW_UPDATES_MIN_ENTRIES, RowAdagrad, bpr_row_gradients
from recsys_gui.core.training.distributed import DistContext
from recsys_gui.core.training.trainer import Trainer, make_batcher
from tests.conftest import tiny_split

CPU = torch.device("cpu")


def _sparse_index(seed: int = 0) -> tuple[PositiveIndex, torch.Tensor, torch.Tensor]:
    """A matrix too large for the dense table (the Bloom filter and binary search path)."""
    g = torch.Generator().manual_seed(seed)
    n_users, n_items = 20_000, 5_000
    users = torch.randint(0, n_users, (200_000,), generator=g)
    items = (torch.rand(200_000, generator=g) ** 3 * n_items).long()  # popular items, as real data
    index = PositiveIndex(users, items, n_items)
    assert index.table is None and index.bloom is not None
    return index, users, items


def test_the_bloom_filtered_membership_test_answers_as_the_binary_search_does():
    index, users, items = _sparse_index()
    g = torch.Generator().manual_seed(1)
    qu = torch.cat([users[:5000], torch.randint(0, 20_000, (5000,), generator=g)])
    qi = torch.cat([items[:5000], torch.randint(0, 5_000, (5000,), generator=g)])
    fast, plain = index.contains(qu, qi), index.contains_reference(qu, qi)
    assert torch.equal(fast, plain)
    assert fast[:5000].all() and fast.sum() < 6000  # every positive found, most random pairs not
    qu2, qi2 = qu.view(100, 100), qi.view(100, 100)
    assert torch.equal(index.contains(qu2, qi2), index.contains_reference(qu2, qi2))


def test_negatives_from_the_sparse_index_avoid_positives_and_are_seeded():
    index, users, _ = _sparse_index()
    heavy = users[:512]
    draw = [sample_negatives(index, heavy, (512, 4), 5_000, torch.Generator().manual_seed(3))
            for _ in range(2)]
    assert torch.equal(draw[0], draw[1])
    hits = index.contains_reference(heavy.unsqueeze(1).expand(512, 4), draw[0])
    assert hits.float().mean() < 0.01


@pytest.mark.parametrize("k", [1, 4])
@pytest.mark.parametrize("reg", [0.0, 3e-3])
def test_row_gradients_are_the_batch_size_times_the_gradients_of_the_mean_loss(k, reg):
    torch.manual_seed(0)
    n, d = 32, 8
    pu = torch.randn(n, d, dtype=torch.float64, requires_grad=True)
    q = torch.randn(n, 1 + k, d, dtype=torch.float64, requires_grad=True)
    loss, bpr = kernels.bpr_with_l2_reference(pu, q, reg)
    g_pu, g_q = torch.autograd.grad(loss, (pu, q))
    r_loss, r_bpr, g_u, g_i, g_n = bpr_row_gradients(pu.detach().clone(), q.detach()[:, 0].clone(),
                                                    q.detach()[:, 1:].clone(), reg)
    assert torch.allclose(r_loss, loss.detach()) and torch.allclose(r_bpr, bpr)
    assert torch.allclose(g_u, n * g_pu)
    assert torch.allclose(g_i, n * g_q[:, 0])
    assert torch.allclose(g_n, n * g_q[:, 1:])


def test_a_row_step_changes_only_the_rows_it_was_given_by_the_row_wise_adagrad_rule():
    torch.manual_seed(0)
    table = torch.nn.Parameter(torch.randn(50, 4))
    before = table.detach().clone()
    opt = RowAdagrad([table], lr=0.1)
    rows = torch.tensor([3, 7, 3, 11])  # row 3 twice: two occurrences, summed
    grads = torch.randn(4, 4)
    opt.update_rows(table, rows, grads.clone())
    opt.update_rows(table, rows[:0], grads[:0])  # the same state again, not a new one
    assert len(opt.state) == 1
    acc = torch.zeros(50).index_add_(0, rows, grads.pow(2).mean(1))
    expected = before.clone()
    for r, g in zip(rows.tolist(), grads, strict=True):
        expected[r] -= 0.1 * g / torch.sqrt(acc[r] + 1e-10)
    assert torch.allclose(table.detach(), expected, atol=1e-6)
    untouched = torch.ones(50, dtype=torch.bool)
    untouched[rows] = False
    assert torch.equal(table.detach()[untouched], before[untouched])


def test_the_dense_gradient_step_is_the_row_step_on_the_rows_with_a_gradient():
    torch.manual_seed(0)
    a = torch.nn.Parameter(torch.randn(20, 3))
    b = torch.nn.Parameter(a.detach().clone())
    grad = torch.zeros(20, 3)
    grad[[2, 5, 9]] = torch.randn(3, 3)
    a.grad = grad.clone()
    RowAdagrad([a], lr=0.05).step()
    RowAdagrad([b], lr=0.05).update_rows(b, torch.tensor([2, 5, 9]), grad[[2, 5, 9]].clone())
    assert torch.allclose(a.detach(), b.detach())


def test_mf_updates_rows_for_large_tables_on_the_cpu_and_whole_tables_otherwise():
    split = tiny_split()
    small = build_model("mf", {}, split.n_users, split.n_items)
    small.prepare(split.train)
    assert not small.rowwise and not small.capabilities.manual_optimization
    n_users = ROW_UPDATES_MIN_ENTRIES // 64  # with 40 items: just over the threshold at 64 factors
    large = build_model("mf", {"embedding_dim": 64}, n_users, split.n_items)
    large.prepare(split.train)
    assert large.rowwise and large.capabilities.manual_optimization
    assert isinstance(large.configure_optimizers(TrainConfig())[0], RowAdagrad)
    forced = build_model("mf", {"updates": "rows"}, split.n_users, split.n_items)
    forced.prepare(split.train)
    assert forced.rowwise
    explicit = build_model("mf", {"updates": "rows", "loss": "mse"}, split.n_users, split.n_items)
    explicit.prepare(split.train)
    assert not explicit.capabilities.manual_optimization  # ratings train through autograd


def test_row_wise_mf_trains_in_batches_of_at_least_its_minimum_and_dense_mf_in_the_asked_size():
    split = tiny_split()
    cfg = TrainConfig(batch_size=64)
    for updates, expected in (("rows", MF.ROW_MIN_BATCH), ("dense", 64)):
        model = build_model("mf", {"updates": updates}, split.n_users, split.n_items)
        model.prepare(split.train)
        assert make_batcher(model, split, cfg, CPU, DistContext()).batch_size == expected
    class Events:
        def __init__(self) -> None:
            self.texts: list[str] = []

        def on_event(self, event) -> None:
            self.texts += [event.text] if event.kind == "message" else []

    seen = Events()
    model = build_model("mf", {"updates": "rows"}, split.n_users, split.n_items)
    Trainer(TrainConfig(batch_size=64, epochs=1, device="cpu"), callbacks=[seen]).fit(model, split, CPU)
    assert any(f"Batches of {MF.ROW_MIN_BATCH:,}, not the 64 asked" in t for t in seen.texts)  # said
    big = TrainConfig(batch_size=2 * MF.ROW_MIN_BATCH)  # a larger request is kept
    model = build_model("mf", {"updates": "rows"}, split.n_users, split.n_items)
    model.prepare(split.train)
    assert make_batcher(model, split, big, CPU, DistContext()).batch_size == 2 * MF.ROW_MIN_BATCH


def test_a_row_wise_mf_step_leaves_rows_outside_the_batch_as_they_were():
    split = tiny_split()
    model = build_model("mf", {"updates": "rows", "negatives": 2}, split.n_users, split.n_items)
    model.prepare(split.train)
    opt = model.configure_optimizers(TrainConfig(lr=5e-3))
    p0, q0 = model.P.weight.detach().clone(), model.Q.weight.detach().clone()
    batch = PairBatch(torch.tensor([0, 1, 1]), torch.tensor([2, 4, 6]),
                      torch.tensor([[1, 3], [5, 7], [9, 11]]))
    ctx = StepContext(epoch=0, global_step=0, device=CPU, optimizers=opt, backward=None, step=None)
    losses = model.training_step(batch, ctx)
    assert torch.isfinite(losses["loss"])
    moved_users = (model.P.weight.detach() != p0).any(1).nonzero().view(-1).tolist()
    moved_items = (model.Q.weight.detach() != q0).any(1).nonzero().view(-1).tolist()
    assert moved_users == [0, 1]
    assert moved_items == [1, 2, 3, 4, 5, 6, 7, 9, 11]
    model.training_step(batch, ctx)
    assert set(opt[0].state) == {model.P.weight, model.Q.weight}  # accumulators persist across steps


@pytest.mark.slow
def test_row_wise_mf_learns_as_well_as_dense_adam_on_a_learnable_split():
    split = tiny_split(n_users=200, n_items=60)
    scores = {}
    for updates in ("dense", "rows"):
        torch.manual_seed(0)  # the same initial tables for both
        model = build_model("mf", {"updates": updates, "embedding_dim": 16}, split.n_users, split.n_items)
        cfg = TrainConfig(epochs=100, batch_size=256, lr=5e-3, seed=0, device="cpu", eval_every_n_epochs=5,
                          early_stop_metric="ndcg@10", patience=4)
        Trainer(cfg, evaluator=Evaluator(["ndcg@10"], seed=0)).fit(model, split, CPU)
        model.eval()
        res = Evaluator(["ndcg@10"], seed=0).evaluate(model, history=split.known_for_valid(),
                                                      exclude=split.known_for_valid(), target=split.test,
                                                      device=CPU)
        scores[updates] = res.metrics["ndcg@10"]
    pop = build_model("pop", {}, split.n_users, split.n_items)
    pop.prepare(split.train)
    base = Evaluator(["ndcg@10"], seed=0).evaluate(pop, history=split.known_for_valid(),
                                                   exclude=split.known_for_valid(), target=split.test,
                                                   device=CPU).metrics["ndcg@10"]
    assert scores["rows"] > 1.5 * base
    assert scores["rows"] > 0.9 * scores["dense"]
