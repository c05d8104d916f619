"""A run as one zip file someone else can re-train and check: ``write_bundle`` and ``read_bundle``.

The bundle holds what a reproduction needs and what it is checked against: the settings
(``spec.json``), the data's fingerprint and the split's raw ids (``split.parquet``: which user
and item fell in which part), the stored metrics, the environment (``environment.json`` and the
installed packages in ``requirements.txt``), optionally the data files and the best checkpoint.
Only a finished run is bundled, and only when its data is still what it was trained on: the
split's ids are made from it, and a bundle of other data would fail every reproduction.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from recsys_gui import __version__
from recsys_gui.core.bundle.environment import environment, installed_packages
from recsys_gui.core.errors import ConfigError, DataChangedError, RecsysError
from recsys_gui.core.store.run_store import RunStore
from recsys_gui.core.store.workspace import Workspace

FORMAT = "recsys-gui-bundle"
FORMAT_VERSION = 1
DATA_ROLES = ("path", "train", "valid", "test", "item_metadata")
REPRODUCIBLE = ("completed", "early_stopped")
README = """This is a RecSys Studio run bundle (run {run}, model {model}).

Re-train it and compare with the bundled metrics:
    recsys-gui reproduce {name} --data YOUR_COPY_OF_THE_DATA
(runs trained on predefined files take --train/--valid/--test; a bundle made with --with-data
holds the data itself and needs no data argument). Data whose fingerprint differs is refused.
"""


@dataclass(frozen=True)
class BundleInfo:
    path: Path
    bytes: int
    run_id: str
    members: list[str]


def write_bundle(
    workspace: Workspace | Path | str | None,
    run: str,
    out: Path | str,
    *,
    with_data: bool = False,
    with_checkpoint: bool = False,
    overwrite: bool = False,
) -> BundleInfo:
    """Write run ``run`` (id, unique name or unique start of an id) as a zip at ``out``, atomically."""
    from recsys_gui.core.session import load_run_split, stored_spec
    from recsys_gui.core.utils.atomic import atomic_target, check_target

    target = check_target(Path(out), overwrite=overwrite)
    store = RunStore(workspace)
    try:
        row = store.get_run(run)
        run_id = row["id"]
        if row["status"] not in REPRODUCIBLE or not row.get("test"):
            raise ConfigError(
                f"Run {run_id} is {row['status']}; only a run that finished (completed or "
                "early-stopped) can be bundled for reproduction."
            )
        spec = stored_spec(row)
        checkpoint = store.workspace.checkpoint_dir(run_id) / "best.pt"
        if with_checkpoint and not checkpoint.is_file():
            raise ConfigError(
                f"Run {run_id} has no best checkpoint ({checkpoint}); bundle it without --with-checkpoint."
            )
        try:
            split = load_run_split(spec, row)
        except DataChangedError:
            raise DataChangedError(
                f"Run {run_id}: its data ({spec.data.describe()}) has changed since the run was trained. A "
                "bundle records the run's split, so restore the file as it was to bundle the run."
            ) from None
        except RecsysError as exc:
            raise type(exc)(f"Bundling run {run_id} reads its data to record the split: {exc}") from None
        history = [m for m in store.metrics(run_id) if m["split"] in ("train", "valid", "test")]
    finally:
        store.close()
    files = {role: Path(p) for role in DATA_ROLES if (p := getattr(spec.data, role))}
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "app_version": __version__,
        "bundled_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "run": {
            k: row.get(k)
            for k in (
                "id",
                "name",
                "model",
                "status",
                "best_epoch",
                "epochs_run",
                "seed",
                "split",
                "created_at",
                "device",
                "tags",
                "note",
            )
        },
        "data_fingerprint": row.get("data_fingerprint") or split.train.fingerprint(),
        "data": {role: _describe_file(p, role if with_data else None) for role, p in files.items()},
        "split_rows": {name: len(part) for name, part in _parts(split)},
        "with_checkpoint": with_checkpoint,
    }
    metrics = {
        "valid": row.get("valid") or {},
        "test": row.get("test") or {},
        "best_epoch": row.get("best_epoch"),
        "epochs_run": row.get("epochs_run"),
        "history": history,
    }
    with (
        atomic_target(target, overwrite=overwrite) as tmp,
        zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf,
    ):
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, default=str))
        zf.writestr("spec.json", json.dumps(spec.to_dict(), indent=2))
        zf.writestr("metrics.json", json.dumps(metrics, indent=2))
        zf.writestr("environment.json", json.dumps(environment(), indent=2))
        zf.writestr("requirements.txt", "\n".join(installed_packages()) + "\n")
        zf.writestr("README.txt", README.format(run=run_id, model=row["model"], name=target.name))
        zf.writestr("split.parquet", split_ids_parquet(split), compress_type=zipfile.ZIP_STORED)
        for role, p in files.items() if with_data else ():
            zf.write(p, manifest["data"][role]["member"])
        if with_checkpoint:
            zf.write(checkpoint, "checkpoint/best.pt")
        members = zf.namelist()
    return BundleInfo(target, target.stat().st_size, run_id, members)


def _describe_file(path: Path, bundled_role: str | None) -> dict[str, Any]:
    try:
        size, digest = path.stat().st_size, _sha256(path)
    except OSError as exc:
        raise RecsysError(f"{path}: cannot read the run's data file ({exc.strerror or exc}).") from None
    return {
        "file": path.name,
        "bytes": size,
        "sha256": digest,
        "member": f"data/{bundled_role}/{path.name}" if bundled_role else None,
    }


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _parts(split: Any) -> list[tuple[str, Any]]:
    return [
        (n, p)
        for n, p in (
            ("train", split.train),
            ("valid", split.valid),
            ("test", split.test),
            ("fold_in", split.fold_in),
        )
        if p is not None
    ]


def split_ids_frame(split: Any) -> pd.DataFrame:
    """Every row of the split as (part, raw user id, raw item id), in the parts' own order."""
    frames = []
    for name, part in _parts(split):
        frames.append(
            pd.DataFrame(
                {
                    "part": name,
                    "user": _raw(part.user_ids, part.users),
                    "item": _raw(part.item_ids, part.items),
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    frame["part"] = frame["part"].astype("category")
    return frame


def _raw(ids: pd.Index, dense: Any) -> Any:
    values = ids.take(dense)
    return values if values.dtype.kind in "iuf" else values.astype(str)


def split_ids_parquet(split: Any) -> bytes:
    """The split's ids as compressed Parquet bytes (zstd: a fraction of the CSV's size)."""
    buf = io.BytesIO()
    split_ids_frame(split).to_parquet(buf, index=False, compression="zstd")
    return buf.getvalue()


@dataclass
class Bundle:
    """A bundle read back: its manifest, settings, metrics and environment, and the zip to extract from."""

    path: Path
    manifest: dict[str, Any]
    spec: dict[str, Any]
    metrics: dict[str, Any]
    environment: dict[str, Any]

    @property
    def fingerprint(self) -> str:
        return str(self.manifest.get("data_fingerprint") or "")

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run", {}).get("id", "?"))

    def bundled_data(self) -> dict[str, str]:
        """Role → zip member of each data file the bundle holds."""
        return {
            role: d["member"]
            for role, d in (self.manifest.get("data") or {}).items()
            if isinstance(d, dict) and d.get("member")
        }

    def split_ids(self) -> pd.DataFrame | None:
        with zipfile.ZipFile(self.path) as zf:
            if "split.parquet" not in zf.namelist():
                return None
            return pd.read_parquet(io.BytesIO(zf.read("split.parquet")))

    def extract_data(self, folder: Path) -> dict[str, Path]:
        """The bundled data files written under ``folder`` (kept when already there, same size)."""
        out: dict[str, Path] = {}
        with zipfile.ZipFile(self.path) as zf:
            for role, member in self.bundled_data().items():
                if role not in DATA_ROLES:
                    continue
                info = zf.getinfo(member)
                dest = folder / role / Path(member).name  # never a path from the zip as it is
                if not (dest.is_file() and dest.stat().st_size == info.file_size):
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, dest.open("wb") as dst:
                        while block := src.read(1 << 20):
                            dst.write(block)
                out[role] = dest
        return out


def read_bundle(path: Path | str) -> Bundle:
    """Open a bundle; anything that is not one of ours is a one-line error, never a traceback."""
    path = Path(path).expanduser()
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "manifest.json" not in names or "spec.json" not in names:
                raise RecsysError(f"{path}: not a RecSys Studio bundle (no manifest.json/spec.json inside).")
            parts = {
                n: json.loads(zf.read(n)) if n in names else {}
                for n in ("manifest.json", "spec.json", "metrics.json", "environment.json")
            }
    except FileNotFoundError:
        raise RecsysError(f"{path}: no such bundle file.") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise RecsysError(f"{path}: not a readable zip bundle ({exc}).") from None
    except (ValueError, KeyError) as exc:
        raise RecsysError(f"{path}: a file inside the bundle is damaged ({exc}).") from None
    manifest = parts["manifest.json"]
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise RecsysError(f"{path}: not a RecSys Studio bundle (its manifest names another format).")
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise RecsysError(
            f"{path}: made by a newer RecSys Studio (bundle format {manifest['format_version']}); "
            "update the app to read it."
        )
    return Bundle(path, manifest, parts["spec.json"], parts["metrics.json"], parts["environment.json"])
