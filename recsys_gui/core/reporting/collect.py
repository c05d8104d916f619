"""What a report says about one run, read from the run store and the run's folder.

Everything but the sample of users comes from what training stored (the row, the metrics table,
``per_user_test.parquet``), so a report of a run whose data has moved still has its figures.
The sample of users and the breakdown by user activity need the data and the best checkpoint;
when either is missing or changed, the report says why in place of those parts.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recsys_gui.core.errors import RecsysError
from recsys_gui.core.store.run_store import RunStore

SAMPLE_USERS = 5
TOP_N = 10
SAMPLE_SEED = 0  # the same users in every run of a comparison made on the same split


@dataclass
class SampleUser:
    user: str
    n_known: int  # interactions the model could know before the test (train + valid + fold-in)
    n_test: int
    items: list[tuple[str, str, bool]]  # (item id, title or "", held-out test item)


@dataclass
class RunFacts:
    """Everything a report shows about one run, as plain data."""

    row: dict[str, Any]
    spec: dict[str, Any]
    model_settings: dict[str, Any]
    train_settings: dict[str, Any]
    curves: dict[str, dict[str, list[tuple[float, float]]]]  # part -> metric -> [(epoch, value)]
    test: dict[str, float]
    per_user: pd.DataFrame | None
    split_summary: dict[str, Any]
    load_report: dict[str, Any]
    sample: list[SampleUser] = field(default_factory=list)
    segments: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    sample_note: str = ""

    @property
    def run_id(self) -> str:
        return str(self.row["id"])

    @property
    def label(self) -> str:
        """The run's name where it has one of its own, else its id."""
        name = self.row.get("name")
        return str(name) if name and name != self.row["id"] else self.run_id

    @property
    def comparable_group(self) -> str:
        """Runs in the same group rank the same users (same data, same split)."""
        return f"{self.row.get('data_fingerprint') or self.run_id}|{self.row.get('split') or ''}"


def collect_run(store: RunStore, run: str, *, with_sample: bool = True) -> RunFacts:
    """The stored facts of ``run`` (an id, a unique name or a unique start of an id)."""
    row = store.get_run(run)
    spec = row.get("spec") if isinstance(row.get("spec"), dict) else {}
    model_settings, train_settings = _settings(row)
    notes = _json_object(row.get("notes"))
    facts = RunFacts(
        row=row,
        spec=spec,
        model_settings=model_settings,
        train_settings=train_settings,
        curves=_curves(store.metrics(row["id"])),
        test=dict(row.get("test") or {}),
        per_user=_per_user(store, row["id"]),
        split_summary=dict(notes.get("split") or {}),
        load_report=dict(notes.get("load_report") or {}),
    )
    if with_sample:
        add_sample(store, facts)
    else:
        facts.sample_note = "Left out of this report."
    return facts


def _settings(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model's and the trainer's settings in full (defaults included), or as stored if unreadable."""
    from recsys_gui.core.models import base as models
    from recsys_gui.core.session import stored_spec

    try:
        spec = stored_spec(row)
        model = dataclasses.asdict(models.make_config(spec.model, spec.model_config))
        train = dataclasses.asdict(spec.train_config())
        return model, train
    except (RecsysError, TypeError, ValueError):
        spec_d = row.get("spec") if isinstance(row.get("spec"), dict) else {}
        return dict(spec_d.get("model_config") or {}), dict(spec_d.get("train") or {})


def _json_object(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) and text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _curves(rows: list[dict[str, Any]]) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """Per-epoch values by part ('train' losses, 'valid' metrics), epochs numbered from 1."""
    out: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for r in rows:
        if r["split"] not in ("train", "valid") or r["epoch"] is None or r["value"] is None:
            continue
        out.setdefault(r["split"], {}).setdefault(r["name"], []).append(
            (float(r["epoch"]) + 1, float(r["value"]))
        )
    for part in out.values():
        for name, pts in part.items():
            last: dict[float, float] = {}
            for e, v in pts:  # a resumed run may log an epoch again: its last value counts
                last[e] = v
            part[name] = sorted(last.items())
    return out


def _per_user(store: RunStore, run_id: str) -> pd.DataFrame | None:
    paths = [a["path"] for a in store.artifacts(run_id) if a["kind"] == "per_user_test"]
    paths.append(str(store.workspace.run_dir(run_id) / "per_user_test.parquet"))
    for p in paths:
        try:
            frame = pd.read_parquet(p)
        except (OSError, ValueError):
            continue
        if "user" in frame.columns:
            return frame
    return None


def add_sample(store: RunStore, facts: RunFacts, *, n_users: int = SAMPLE_USERS, k: int = TOP_N) -> None:
    """Top-``k`` lists of a few test users and the breakdown by user activity (needs data + checkpoint)."""
    import torch

    from recsys_gui.core.session import load_run_model, load_run_split

    try:
        model, spec, row = load_run_model(store.workspace, facts.run_id, device=torch.device("cpu"))
        split = load_run_split(spec, row)
    except (RecsysError, OSError) as exc:
        facts.sample_note = f"Not shown: {exc}"
        return
    if (model.n_users, model.n_items) != (split.n_users, split.n_items):
        facts.sample_note = "Not shown: the model does not match the run's data any more."
        return
    facts.sample = sample_users(model, split, n_users=n_users, k=k)
    if facts.per_user is not None:
        from recsys_gui.core.evaluation.evaluator import breakdown_by_activity

        counts = split.train.user_counts()
        users = facts.per_user["user"].to_numpy(np.int64)
        if users.size and users.max() < counts.size:
            facts.segments = {
                m: breakdown_by_activity(users, facts.per_user[m].to_numpy(float), counts)
                for m in facts.per_user.columns
                if m != "user"
            }


def sample_users(model: Any, split: Any, *, n_users: int = SAMPLE_USERS, k: int = TOP_N) -> list[SampleUser]:
    """A reproducible sample of test users with their top-``k`` (known items masked, as in evaluation)."""
    import torch

    from recsys_gui.core.evaluation.ranking import DeviceCSR, topk_for_users

    test_users = np.unique(split.test.users)
    if test_users.size == 0:
        return []
    rng = np.random.default_rng(SAMPLE_SEED)
    chosen = np.sort(rng.choice(test_users, size=min(n_users, test_users.size), replace=False))
    known = split.known_for_test()
    model.set_context(known)
    dev = torch.device("cpu")
    idx, vals = topk_for_users(
        model,
        torch.as_tensor(chosen, device=dev),
        k=k,
        history=DeviceCSR(split.known_for_valid(), dev),
        exclude=DeviceCSR(known, dev),
    )
    idx, vals = idx.numpy(), vals.numpy()
    ref = split.train
    titles = ref.item_titles()
    known_counts = np.bincount(known.users, minlength=ref.n_users)
    test_counts = np.bincount(split.test.users, minlength=ref.n_users)
    out = []
    for row, u in enumerate(chosen):  # a handful of users: the per-user loop is on a report, not a hot path
        held = set(split.test.items[split.test.users == u].tolist())
        items = [
            (str(ref.item_ids[i]), _title(titles, int(i)), int(i) in held)
            for i, v in zip(idx[row], vals[row], strict=True)
            if np.isfinite(v)
        ]
        out.append(SampleUser(str(ref.user_ids[u]), int(known_counts[u]), int(test_counts[u]), items))
    return out


def _title(titles: pd.Series | None, item: int) -> str:
    value = None if titles is None else titles.get(item)
    return "" if value is None or pd.isna(value) else str(value)
