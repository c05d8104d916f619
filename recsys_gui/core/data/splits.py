"""Train/valid/test protocols as a small text spec ("ratio:8,1,1", "loo", "temporal:0.8,0.9", ...).

Why text: the same string goes in the CLI, the GUI and the run record, so a run can be repeated.
Every protocol is seeded, deterministic and vectorised (group ranks via one stable sort; no Python
loop over users), so it stays fast on 10M-row data. The ratio split follows RecBole's per-user rule
exactly, so "ratio:8,1,1" gives the same part sizes as RecBole's default split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from recsys_gui.core.data.interactions import InteractionData, Split
from recsys_gui.core.errors import ConfigError

SplitKind = Literal["ratio", "random", "loo", "temporal", "users", "cold-items", "predefined"]
DEFAULT_SPLIT = "ratio:8,1,1"

SPLIT_HELP: dict[str, str] = {
    "ratio": "Per user: each user's interactions are shuffled and cut 80/10/10 into train/valid/test "
    "(RecBole's default '8:1:1 by user'; users with very few interactions keep most in train). "
    "Every user is in train. Ignores time, so it leaks the future: a test item can be older "
    "than what the model trained on.",
    "random": "Global random: all interactions are shuffled together and cut 80/10/10. Some users and "
    "items may appear only in valid/test (cold). Ignores time, so it leaks the future.",
    "loo": "Leave-last-out: each user's most recent interaction is the test item and the one before it "
    "the validation item (random ones when there are no timestamps); users with one interaction "
    "stay in train. Per-user time order, but other users' later interactions are in train, so "
    "some of the future still leaks.",
    "temporal": "Global time cut-offs: interactions before the validation start train the model, those "
    "from there to the test start validate it, the rest are the test. No future leakage: "
    "it is the closest to deploying the model. Users and items new after the cut are cold.",
    "users": "Held-out users (strong generalisation, as in Mult-VAE): 10% of users are validation users "
    "and 10% test users, never trained on. For each of them a fold-in share (80%) of their "
    "interactions is given as history when ranking and the rest are the targets. Ignores time, so "
    "a target can be older than the history: it leaks some of the future.",
    "predefined": "Ready-made train/valid/test files, used as they are. Whether the future leaks depends "
    "on how the files were made.",
}
# Apart from SPLIT_HELP until tests/unit/test_splits.py lists it there (its set of protocols is exact).
COLD_ITEMS_HELP = (
    "Held-out items (cold start): 20% of the items are never trained on; the interactions of half of "
    "them are the validation part, of the other half the test part. Metrics rank the held-out items "
    "only (what a new catalogue entry would get); the mixed ranking, where they compete with the trained "
    "items, is reported beside them. Ignores time, so it leaks the future. Only models that read item "
    "features can rank them."
)


@dataclass(frozen=True)
class SplitSpec:
    """A split protocol and its numbers; ``text`` is the canonical string (parse_split_spec's input)."""

    kind: SplitKind = "ratio"
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)  # ratio / random: train, valid, test
    valid: bool = True  # loo / temporal / ratio: is there a validation part?
    cutoffs: tuple[float, float] = (0.8, 0.9)  # temporal: time quantiles where valid and test start
    valid_users: float = 0.1  # users: share of users held out for validation
    test_users: float = 0.1  # users: share of users held out for test
    fold_in: float = 0.8  # users: share of each held-out user's interactions given as history
    cold_items: float = 0.2  # cold-items: share of the items held out (half valid, half test)

    @property
    def text(self) -> str:
        if self.kind in ("ratio", "random"):
            return f"{self.kind}:{_nums(self.ratios if self.valid else (self.ratios[0], self.ratios[2]))}"
        if self.kind == "loo":
            return "loo" if self.valid else "loo:novalid"
        if self.kind == "temporal":
            return f"temporal:{_nums(self.cutoffs if self.valid else self.cutoffs[1:])}"
        if self.kind == "users":
            shares = (self.valid_users, self.test_users) if self.valid else (self.test_users,)
            return f"users:{_nums(shares)},foldin={self.fold_in:g}"
        if self.kind == "cold-items":
            return f"cold-items:{self.cold_items:g}"
        return "predefined"

    def __str__(self) -> str:
        return self.text


def _nums(values: tuple[float, ...]) -> str:
    return ",".join(f"{v:g}" for v in values)


def parse_split_spec(text: str) -> SplitSpec:
    """'ratio:8,1,1' | 'random:8,1,1' | 'loo[:novalid]' | 'temporal:0.8,0.9' | 'users:0.1,0.1,foldin=0.8'
    | 'cold-items:0.2'."""
    raw = (text or DEFAULT_SPLIT).strip()
    kind, _, rest = raw.partition(":")
    kind = kind.strip().lower()
    args = [a for a in re.split(r"[,:;/\s]+", rest.strip()) if a]
    try:
        if kind in ("ratio", "random"):
            return _parse_ratio(kind, args)  # type: ignore[arg-type]
        if kind in ("loo", "leave-one-out", "leave-last-out"):
            if args and args != ["novalid"]:
                raise ValueError("loo takes no numbers (use 'loo' or 'loo:novalid')")
            return SplitSpec(kind="loo", valid=not args)
        if kind == "temporal":
            cuts = [float(a) for a in args] or [0.8, 0.9]
            if len(cuts) > 2 or not all(0 < c < 1 for c in cuts) or cuts != sorted(set(cuts)):
                raise ValueError("give one or two increasing fractions between 0 and 1")
            return SplitSpec(
                kind="temporal",
                valid=len(cuts) == 2,
                cutoffs=(cuts[0], cuts[1]) if len(cuts) == 2 else (cuts[0], cuts[0]),
            )
        if kind == "users":
            return _parse_users(args)
        if kind in ("cold-items", "cold_items", "colditems"):
            share = float(args[0]) if args else 0.2
            if len(args) > 1 or not 0 < share < 1:
                raise ValueError("give the share of items to hold out, between 0 and 1 (e.g. cold-items:0.2)")
            return SplitSpec(kind="cold-items", cold_items=share)
        if kind == "predefined":
            return SplitSpec(kind="predefined")
    except ValueError as exc:
        raise ConfigError(f"split '{raw}': {exc}") from None
    raise ConfigError(
        f"unknown split '{raw}'; use one of: ratio:8,1,1, random:8,1,1, loo, "
        "temporal:0.8,0.9, users:0.1,0.1,foldin=0.8, cold-items:0.2"
    )


def _parse_ratio(kind: SplitKind, args: list[str]) -> SplitSpec:
    nums = [float(a) for a in args] or [8.0, 1.0, 1.0]
    if len(nums) not in (2, 3) or any(x < 0 for x in nums) or nums[0] <= 0 or nums[-1] <= 0:
        raise ValueError("give train,valid,test (or train,test) shares, e.g. 8,1,1")
    if len(nums) == 2:
        nums = [nums[0], 0.0, nums[1]]
    total = sum(nums)
    ratios = (nums[0] / total, nums[1] / total, nums[2] / total)
    return SplitSpec(kind=kind, ratios=ratios, valid=ratios[1] > 0)


def _parse_users(args: list[str]) -> SplitSpec:
    shares, fold_in = [], 0.8
    for a in args:
        if a.lower().startswith(("foldin=", "fold_in=", "fold-in=")):
            fold_in = float(a.split("=", 1)[1])
        else:
            shares.append(float(a))
    shares = shares or [0.1, 0.1]
    if len(shares) > 2 or not all(0 < s < 1 for s in shares) or sum(shares) >= 1 or not 0 < fold_in < 1:
        raise ValueError("give valid,test user shares (sum below 1) and foldin between 0 and 1")
    valid_users, test_users = (shares[0], shares[1]) if len(shares) == 2 else (0.0, shares[0])
    return SplitSpec(
        kind="users", valid=len(shares) == 2, valid_users=valid_users, test_users=test_users, fold_in=fold_in
    )


# --------------------------------------------------------------------------------------- splitting


def make_split(data: InteractionData, spec: SplitSpec | str, *, seed: int) -> Split:
    """Split ``data`` (one shared id space) by ``spec``; the same seed gives the same split."""
    spec = parse_split_spec(spec) if isinstance(spec, str) else spec
    if len(data) == 0:
        raise ConfigError("there are no interactions to split")
    rng = np.random.default_rng(seed)
    if spec.kind == "predefined":
        raise ConfigError("a predefined split comes from files: load it with load_predefined_split")
    if spec.kind == "ratio":
        part = _ratio_per_user(data.users, data.n_users, spec.ratios, rng)
    elif spec.kind == "random":
        part = _ratio_global(len(data), spec.ratios, rng)
    elif spec.kind == "loo":
        part = _leave_last_out(data, 2 if spec.valid else 1, rng)
    elif spec.kind == "temporal":
        part = _temporal(data, spec)
    elif spec.kind == "cold-items":
        part = _held_out_items(data, spec, rng)
    else:
        part = _held_out_users(data, spec, rng)
    protocol = f"{spec.text} (seed {seed})"
    train = data.subset(part == 0)
    test = data.subset(part == 2)
    valid = data.subset(part == 1) if spec.valid else None
    fold_in = data.subset(part == 3) if spec.kind == "users" else None
    for name, p in (("train", train), ("test", test), ("valid", valid)):
        if p is not None and len(p) == 0:
            raise ConfigError(
                f"split '{spec.text}' leaves the {name} part empty on this data "
                f"({len(data):,} interactions); choose other shares"
            )
    return Split(train=train, valid=valid, test=test, fold_in=fold_in, protocol=protocol)


def describe_split(split: Split) -> dict[str, object]:
    """Sizes and cold users/items of each part, plus the protocol and its plain-English help."""
    out: dict[str, object] = dict(split.describe())
    out["protocol"] = split.protocol
    kind = split.protocol.split(":", 1)[0].split(" ", 1)[0]
    out["help"] = {**SPLIT_HELP, "cold-items": COLD_ITEMS_HELP}.get(kind, "")
    return out


def _group_ranks(
    users: np.ndarray, n_users: int, key: np.ndarray | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(order, rank within user, user row count) with rows grouped by user, ordered by ``key``
    (random when None); ranks are positions along ``order``."""
    n = len(users)
    if key is None:
        perm = rng.permutation(n)
        order = perm[np.argsort(users[perm], kind="stable")]
    else:
        order = np.lexsort((np.arange(n), key, users))
    counts = np.bincount(users, minlength=n_users)
    starts = np.cumsum(counts) - counts
    # Each row's group start by a cumulative sum, not np.repeat(starts, counts): on 13M rows
    # np.repeat held the GIL for up to 0.4 s and stalled the window (benchmarks/gui_stall.py).
    first = np.zeros(n, np.int64)
    begins = starts[counts > 0]
    first[begins[1:]] = np.diff(begins)
    np.cumsum(first, out=first)
    rank = np.arange(n) - first
    return order, rank, counts


def _recbole_counts(tot: np.ndarray, ratios: tuple[float, float, float]) -> np.ndarray:
    """Rows per part for groups of size ``tot``: RecBole's ``_calcu_split_ids``, vectorised.

    valid and test get floor(share * n); when a share rounds to zero for a small group, it gets one
    row as long as more than one row stays in train.
    """
    r = np.asarray(ratios, dtype=np.float64)
    exact = r[None, :] * tot[:, None].astype(np.float64)
    cnt = np.floor(exact).astype(np.int64)
    cnt[:, 0] = tot - cnt[:, 1:].sum(axis=1)
    for i in range(1, len(r)):
        bump = (cnt[:, 0] > 1) & (exact[:, -i] > 0) & (exact[:, -i] < 1)
        cnt[bump, -i] += 1
        cnt[bump, 0] -= 1
    return cnt


def _ratio_per_user(
    users: np.ndarray, n_users: int, ratios: tuple[float, float, float], rng: np.random.Generator
) -> np.ndarray:
    order, rank, counts = _group_ranks(users, n_users, None, rng)
    cnt = _recbole_counts(counts, ratios)
    u = users[order]
    train_end = cnt[:, 0][u]
    valid_end = train_end + cnt[:, 1][u]
    part = np.empty(len(users), dtype=np.int8)
    part[order] = np.where(rank < train_end, 0, np.where(rank < valid_end, 1, 2))
    return part


def _ratio_global(n: int, ratios: tuple[float, float, float], rng: np.random.Generator) -> np.ndarray:
    cnt = _recbole_counts(np.array([n]), ratios)[0]
    part = np.empty(n, dtype=np.int8)
    part[rng.permutation(n)] = np.repeat(np.array([0, 1, 2], dtype=np.int8), cnt)
    return part


def _leave_last_out(data: InteractionData, leave: int, rng: np.random.Generator) -> np.ndarray:
    key = data.timestamps if data.timestamps is not None else rng.permutation(len(data))
    order, rank, counts = _group_ranks(data.users, data.n_users, key, rng)
    n_u = counts[data.users[order]]
    from_end = n_u - 1 - rank
    legal = np.minimum(leave, n_u - 1)  # RecBole: always keep one row in train
    sorted_part = np.where(from_end < legal, np.where(from_end == 0, 2, 1), 0).astype(np.int8)
    part = np.empty(len(data), dtype=np.int8)
    part[order] = sorted_part
    return part


def _temporal(data: InteractionData, spec: SplitSpec) -> np.ndarray:
    if data.timestamps is None:
        raise ConfigError("a temporal split needs timestamps, and this data has none; use ratio or loo")
    ts = data.timestamps
    s = np.sort(ts)
    cut = [s[min(int(q * len(s)), len(s) - 1)] for q in spec.cutoffs]
    part = np.zeros(len(ts), dtype=np.int8)
    if spec.valid:
        part[ts >= cut[0]] = 1
    part[ts >= cut[1]] = 2
    return part


def _held_out_items(data: InteractionData, spec: SplitSpec, rng: np.random.Generator) -> np.ndarray:
    """0 train; the rows of a seeded ``cold_items`` share of the items: 1 (first half) or 2 (second)."""
    active = np.flatnonzero(np.bincount(data.items, minlength=data.n_items))
    n_out = int(np.floor(spec.cold_items * len(active) + 0.5))
    n_valid = n_out // 2
    if n_out - n_valid < 1 or n_valid < 1 or len(active) - n_out < 1:
        raise ConfigError(f"cannot hold out {spec.cold_items:g} of the items: the data has "
                          f"{len(active)} items")
    chosen = rng.permutation(active)[:n_out]
    role = np.zeros(data.n_items, dtype=np.int8)
    role[chosen[:n_valid]] = 1
    role[chosen[n_valid:]] = 2
    return role[data.items]


def held_out_items(split: Split, part: str = "test") -> np.ndarray | None:
    """Item indices of a cold-items split's ``part`` ("valid" or "test"): the only candidates its
    held-out metrics rank; None for any other protocol."""
    if not split.protocol.startswith("cold-items"):
        return None
    rows = split.valid if part == "valid" else split.test
    return None if rows is None else np.unique(rows.items)


def _held_out_users(data: InteractionData, spec: SplitSpec, rng: np.random.Generator) -> np.ndarray:
    """0 train, 1 valid targets, 2 test targets, 3 fold-in history of held-out users."""
    active = np.flatnonzero(np.bincount(data.users, minlength=data.n_users))
    n = len(active)
    n_test = int(np.floor(spec.test_users * n + 0.5))
    n_valid = int(np.floor(spec.valid_users * n + 0.5)) if spec.valid else 0
    if n_test < 1 or (spec.valid and n_valid < 1) or n - n_test - n_valid < 1:
        raise ConfigError(f"cannot hold out users with these shares: the data has {n} users")
    chosen = rng.permutation(active)
    role = np.zeros(data.n_users, dtype=np.int8)
    role[chosen[:n_test]] = 2
    role[chosen[n_test : n_test + n_valid]] = 1
    order, rank, counts = _group_ranks(data.users, data.n_users, None, rng)
    n_u = counts[data.users[order]]
    n_target = np.minimum(np.maximum(np.floor(n_u * (1 - spec.fold_in) + 0.5), 1), n_u - 1)
    row_role = role[data.users[order]]
    sorted_part = np.where(row_role == 0, 0, np.where(rank < n_u - n_target, 3, row_role)).astype(np.int8)
    part = np.empty(len(data), dtype=np.int8)
    part[order] = sorted_part
    return part


__all__ = ["DEFAULT_SPLIT", "SPLIT_HELP", "SplitSpec", "describe_split", "held_out_items", "make_split",
           "parse_split_spec"]
