"""Keyed pseudonyms for user ids: HMAC-SHA256 under a secret kept in the workspace, never in an export.

A pseudonym is ``u_`` + the first 20 hex digits (80 bits) of HMAC-SHA256(key, raw id as text). The
key is 32 random bytes in ``<workspace>/privacy/pseudonym.key`` (hex, owner-only permissions),
made on first use. Without the key a recipient cannot recompute a pseudonym from a guessed id (an
unkeyed hash of a small id space could be reversed by hashing every candidate), and exports made
under different keys cannot be joined on their pseudonyms.

A keyed hash is one-way: mapping back means hashing the raw ids the analyst already has (the
run's users) with the key and inverting that table. ``rotate_key`` retires the key under a dated
name, so files exported before the rotation can still be mapped back.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from recsys_gui.core.errors import ConfigError, ExportError
from recsys_gui.core.store.workspace import Workspace

PREFIX = "u_"
DIGEST_HEX = 20  # 80 bits: collisions among a billion users have odds of about 4e-7
KEY_BYTES = 32
KEY_NAME = "pseudonym.key"
RETIRED_PATTERN = "pseudonym.*.key"
_HEX_KEY = re.compile(r"^[0-9a-f]{64}$")

WorkspaceLike = Workspace | Path | str | None


def privacy_dir(workspace: WorkspaceLike) -> Path:
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    return ws.root / "privacy"


def key_path(workspace: WorkspaceLike) -> Path:
    """Where the workspace's current pseudonym key lives (it may not exist yet)."""
    return privacy_dir(workspace) / KEY_NAME


def workspace_key(workspace: WorkspaceLike) -> bytes:
    """The workspace's current key, made (32 random bytes, owner-only file) when there is none."""
    path = key_path(workspace)
    if not path.exists():
        _create_key(path)
    return read_key(path)


def read_key(path: Path) -> bytes:
    """A key file's 32 bytes; a damaged file is a one-line message, never a silent new key."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the pseudonym key ({exc}).") from None
    if not _HEX_KEY.match(text):
        raise ConfigError(
            f"{path}: not a pseudonym key (expected 64 hex digits). Restore it from a backup; "
            "without it, exports made with it cannot be mapped back."
        )
    return bytes.fromhex(text)


def _create_key(path: Path) -> None:
    """Write a new key without ever exposing a half-written or world-readable file.

    The key is written to a private temporary file and hard-linked to its name, which fails if
    another process made a key meanwhile; then that key is kept and ours is dropped.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(secrets.token_bytes(KEY_BYTES).hex() + "\n")
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):  # another process won: its key is the one
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create the pseudonym key ({exc.strerror or exc}).") from None


def key_id(key: bytes) -> str:
    """A short public name of a key (which key made an export), from which the key cannot be found."""
    return hashlib.sha256(b"recsys-gui pseudonym key id\0" + key).hexdigest()[:12]


def pseudonymise(raw_ids: Iterable[object], key: bytes) -> np.ndarray:
    """Pseudonyms (object array of str) of raw ids, each hashed in its text form ("7" for 7)."""
    base = hmac.new(key, digestmod=hashlib.sha256)
    out = []
    for raw in raw_ids:
        h = base.copy()
        h.update(_text(raw).encode("utf-8"))
        out.append(PREFIX + h.hexdigest()[:DIGEST_HEX])
    arr = np.array(out, dtype=object)
    if len(set(out)) != len(out):
        raise ExportError(
            "Two different user ids got the same pseudonym (or the id list repeats an id); "
            "rotate the pseudonym key and export again."
        )
    return arr


def _text(raw: object) -> str:
    if isinstance(raw, (np.integer, int)) and not isinstance(raw, bool):
        return str(int(raw))
    return raw if isinstance(raw, str) else str(raw)


def rotate_key(workspace: WorkspaceLike) -> tuple[Path | None, Path]:
    """Retire the current key under a dated name and make a new one: (retired file or None, new key file).

    Exports made before keep mapping back (``map_back`` tries retired keys too); exports made after
    cannot be joined with them on user pseudonyms.
    """
    current = key_path(workspace)
    retired = None
    if current.exists():
        read_key(current)  # a damaged key is reported, not retired as if it were one
        stamp = time.strftime("%Y-%m-%dT%H%M%SZ", time.gmtime())
        retired = current.with_name(f"pseudonym.{stamp}.key")
        n = 1
        while retired.exists():
            n += 1
            retired = current.with_name(f"pseudonym.{stamp}-{n}.key")
        try:
            os.link(current, retired)  # never replaces an existing file, unlike a rename
            current.unlink()
        except OSError as exc:
            raise ConfigError(
                f"{current}: cannot retire the pseudonym key ({exc.strerror or exc})."
            ) from None
    _create_key(current)
    return retired, current


def workspace_keys(workspace: WorkspaceLike) -> list[bytes]:
    """Every key of the workspace: the current one first, then retired ones, newest first."""
    folder = privacy_dir(workspace)
    paths = [folder / KEY_NAME] if (folder / KEY_NAME).exists() else []
    retired = [p for p in folder.glob(RETIRED_PATTERN) if p.name != KEY_NAME]
    paths += sorted(retired, key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)  # made when made
    return [read_key(p) for p in paths]


def map_back(
    workspace: WorkspaceLike, pseudonyms: Iterable[str], known_ids: Iterable[object]
) -> dict[str, object]:
    """Pseudonym → raw id for every pseudonym that one of the workspace's keys made from a known id.

    ``known_ids`` are the raw ids the pseudonyms may stand for (a run's users). Pseudonyms absent
    from the result match none of them under any key of this workspace.
    """
    wanted = {str(p) for p in pseudonyms}
    known = list(dict.fromkeys(known_ids))
    found: dict[str, object] = {}
    for key in workspace_keys(workspace):
        if len(found) == len(wanted):
            break
        table = dict(zip(pseudonymise(known, key).tolist(), known, strict=True))
        for p in wanted - found.keys():
            if p in table:
                found[p] = table[p]
    return found
