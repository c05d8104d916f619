"""Re-train a bundled run on a copy of its data and set the new figures beside the bundled ones.

The data is checked before any training: after the run's own split it must give the bundled
fingerprint (else it is other data, refused), and the split's rows must be the bundled ones
(else this version of the app splits differently, and the numbers could not agree).
"""

from __future__ import annotations

import dataclasses
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from recsys_gui.core.bundle.archive import Bundle, read_bundle, split_ids_parquet
from recsys_gui.core.bundle.environment import differences, environment
from recsys_gui.core.errors import ConfigError, DataChangedError, DataError, RecsysError
from recsys_gui.core.store.workspace import Workspace

TOLERANCE = 1e-6


@dataclass(frozen=True)
class DataFiles:
    """Where to read the data from; None everywhere means "the data inside the bundle"."""

    data: str | None = None
    train: str | None = None
    valid: str | None = None
    test: str | None = None
    item_metadata: str | None = None


@dataclass
class Reproduction:
    run_id: str  # the new run
    source_run: str
    bundled: dict[str, float]
    reproduced: dict[str, float]
    max_abs_diff: float
    environment_differences: dict[str, tuple[Any, Any]]

    @property
    def matches(self) -> bool:
        return self.max_abs_diff <= TOLERANCE

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "source_run": self.source_run,
            "bundled": self.bundled,
            "reproduced": self.reproduced,
            "max_abs_diff": self.max_abs_diff,
            "matches": self.matches,
            "environment_differences": {k: list(v) for k, v in self.environment_differences.items()},
        }


def reproduce_bundle(
    bundle: Path | str,
    files: DataFiles,
    *,
    workspace: Workspace | Path | str | None = None,
    device: str | None = None,
    callbacks: Sequence[Any] = (),
    stop: Any = None,
) -> Reproduction:
    """Check ``files`` against the bundle, re-train with its settings, and compare the test metrics."""
    from recsys_gui.core.session import RunSpec, load_split, run_training

    b = read_bundle(bundle)
    ws = Workspace(workspace).ensure()
    try:
        spec = RunSpec.from_dict(b.spec)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RecsysError(f"{b.path}: its spec.json is damaged ({type(exc).__name__}).") from None
    data = _data_spec(b, spec, files, ws)
    train = dict(spec.train)
    if device:
        train["device"] = device
    spec = dataclasses.replace(spec, data=data, train=train, name=None)
    split, _ = load_split(spec, seed=spec.train_config().seed)
    check_same_data(b, split, data)
    outcome = run_training(spec, workspace=ws, callbacks=callbacks, stop=stop)
    bundled = {k: float(v) for k, v in (b.metrics.get("test") or {}).items()}
    reproduced = {k: float(v) for k, v in outcome.test.items()}
    common = [k for k in bundled if k in reproduced]
    diffs = [abs(bundled[k] - reproduced[k]) for k in common]
    max_diff = max((d for d in diffs if math.isfinite(d)), default=float("nan")) if common else float("nan")
    from recsys_gui.core.store.run_store import RunStore

    store = RunStore(ws)
    try:
        store.set_note(
            outcome.run_id,
            f"Reproduction of run {b.run_id} from {b.path.name}: largest test-metric "
            f"difference {max_diff:.2e}.",
        )
    finally:
        store.close()
    return Reproduction(
        outcome.run_id, b.run_id, bundled, reproduced, max_diff, differences(b.environment, environment())
    )


def _data_spec(b: Bundle, spec: Any, files: DataFiles, ws: Workspace) -> Any:
    """The spec's data section pointed at the given files, or at the bundled ones extracted into ``ws``."""
    given = {"path": files.data, "train": files.train, "valid": files.valid, "test": files.test}
    if spec.data.predefined and files.data:
        raise ConfigError(
            f"Run {b.run_id} was trained on predefined files: pass --train/--test (and --valid "
            "when it had one) instead of --data."
        )
    if not spec.data.predefined and (files.train or files.valid or files.test):
        raise ConfigError(
            f"Run {b.run_id} was trained on one file split by '{spec.split}': pass it as --data."
        )
    roles = ("train", "valid", "test") if spec.data.predefined else ("path",)
    chosen: dict[str, str | None] = {r: given[r] for r in roles}
    if not any(chosen.values()):
        bundled = b.bundled_data()
        if not bundled:
            names = ", ".join(str(d.get("file")) for d in (b.manifest.get("data") or {}).values())
            flag = "--train/--test" if spec.data.predefined else "--data FILE"
            raise ConfigError(
                f"{b.path.name} holds no data (bundled without --with-data): pass {flag}, "
                f"a copy of the data the run was trained on ({names})."
            )
        chosen = {r: str(p) for r, p in b.extract_data(ws.root / "bundled-data" / b.run_id).items()}
    elif spec.data.predefined and not (chosen.get("train") and chosen.get("test")):
        raise ConfigError("Pass both --train and --test for a run trained on predefined files.")
    elif spec.data.predefined and spec.data.valid and not chosen.get("valid"):
        raise ConfigError(f"Run {b.run_id} had a validation file: pass it with --valid.")
    meta = files.item_metadata or chosen.get("item_metadata") or spec.data.item_metadata
    if meta and not Path(meta).exists() and not files.item_metadata:
        meta = None  # the fingerprint check says so if the run's ids depended on it
    out = {r: _existing(v) for r, v in chosen.items() if r in ("path", "train", "valid", "test")}
    return dataclasses.replace(
        spec.data,
        **{**{"path": None, "train": None, "valid": None, "test": None}, **out},
        item_metadata=_existing(meta) if meta else None,
    )


def _existing(path: str | None) -> str | None:
    if path is None:
        return None
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError("file not found", path=p)
    return str(p.resolve())


def check_same_data(b: Bundle, split: Any, data: Any) -> None:
    """Refuse data that is not the bundled run's, and a split that no longer comes out the same."""
    got = split.train.fingerprint()
    if b.fingerprint and got != b.fingerprint:
        described = "; ".join(
            f"{d.get('file')}, {d.get('bytes', 0):,} bytes, sha256 {str(d.get('sha256'))[:12]}…"
            for d in (b.manifest.get("data") or {}).values()
            if isinstance(d, dict)
        )
        raise DataChangedError(
            f"{data.describe()}: not the data of run {b.run_id}: after the run's split it gives "
            f"fingerprint {got}, the bundle records {b.fingerprint} (trained on {described})."
        )
    bundled_ids = b.split_ids()
    if bundled_ids is None:
        return
    now = pd.read_parquet(io.BytesIO(split_ids_parquet(split)))  # the same round trip as the bundled ids
    if not now.equals(bundled_ids):
        counts = {p: int((bundled_ids["part"] == p).sum()) for p in ("train", "valid", "test")}
        raise RecsysError(
            f"{data.describe()}: the data matches run {b.run_id} but its split comes out differently "
            f"here (bundled rows {counts}); this version of the app "
            f"({environment()['recsys_gui']}) splits otherwise than "
            f"{b.manifest.get('app_version')}, so the figures could not agree."
        )
