"""Atomic file writes: build the file beside its target, then ``os.replace`` it into place.

An export can take minutes and be interrupted (Stop button, Ctrl-C, a killed process, a full
disk). Writing straight to the target would leave a half-written file that looks like a finished
one. Instead every export writes ``.<name>.<pid>-<token>.partial`` in the target's folder (same
file system, so the final rename is atomic) and renames it only once it is complete:

* normal errors and cancellation delete the partial file and leave the target untouched;
* a process killed outright (SIGKILL, power cut) cannot clean up, but the target is still untouched;
  the next export to the same target removes partial files whose process is gone.

Nothing the user has is replaced without asking, and some things never are (``check_target``):
anything already at the target, a dangling symbolic link included, is refused unless the caller
passes ``overwrite``; even then only a regular file or a symbolic link itself is replaced (the
rename swaps the link, so nothing is ever written through it), never a folder, device, pipe or
socket. A folder link that leads nowhere is refused rather than followed to create its target.
A full disk (ENOSPC, quota, SQLite's "database or disk is full") becomes one plain message that
names the folder to free space in; the old target is still untouched and the partial file is gone.
Paths that cannot be written at all (too long, a read-only or virtual folder) are refused with a
message naming the path before any work starts.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import sqlite3
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from recsys_gui.core.errors import ExportError, RecsysError

PARTIAL_SUFFIX = ".partial"
# Bytes of the target's name kept in a partial file's name: the pid, the token and the suffix must
# still fit the usual 255-byte limit on one name when the target's own name is near it.
PARTIAL_NAME_BYTES = 200
_NOT_REGULAR = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def resolved_target(out: Path | str) -> Path:
    """The absolute path an export really lands at: ``~`` expanded, the folder's links and ``..``
    resolved, so reports and confirmations name the real place. The file name itself is kept as
    given (``check_target`` decides what may happen to a link there).

    A folder on the way that is a link to nothing is refused: resolving it would create folders
    wherever it points.
    """
    p = Path(out).expanduser()
    try:
        for folder in (p.parent, *p.parent.parents):
            if folder.is_symlink() and not folder.exists():
                raise ExportError(
                    f"{folder} is a symbolic link to {os.readlink(folder)}, which does not exist; "
                    "remove the link or choose another output path."
                )
    except OSError as exc:
        raise ExportError(_cannot_write(p, exc)) from None
    return p.parent.resolve() / p.name


def refusal(target: Path, *, overwrite: bool, flag: str = "--overwrite") -> str | None:
    """Why ``target`` must not be replaced, or None when it may be: the overwrite rule in one place."""
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return _cannot_write(target, exc)
    mode = st.st_mode
    if stat.S_ISDIR(mode) or (stat.S_ISLNK(mode) and target.is_dir()):
        return f"{target} is a folder; give a file name for the export."
    if stat.S_ISLNK(mode):
        if overwrite:
            return None  # os.replace swaps the link itself; whatever it points to is not touched
        return (
            f"{target} already exists (a symbolic link to {os.readlink(target)}). Pass {flag} to replace "
            "the link itself (what it points to is left alone), or choose another output path."
        )
    for test, kind in _NOT_REGULAR:
        if test(mode):
            return (
                f"{target} is {kind}, not a regular file; it is never replaced, even with {flag}. "
                "Choose another output path."
            )
    if not overwrite:
        return f"{target} already exists. Pass {flag} to replace it, or choose another output path."
    return None


def check_target(target: Path, *, overwrite: bool, flag: str = "--overwrite") -> Path:
    """The target, or an ``ExportError`` saying why it cannot be written (``refusal``'s rule).

    Called before any expensive work, so a refused export fails in milliseconds. Its folder is
    created and proved writable by creating (and removing) a partial file there, which answers
    for read-only mounts, /proc and root alike, where permission bits alone would not.
    """
    target = Path(target).expanduser()
    reason = refusal(target, overwrite=overwrite, flag=flag)
    if reason:
        raise ExportError(reason)
    parent = target.parent
    if parent.exists() and not parent.is_dir():
        raise ExportError(f"{parent} is not a folder.")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"Cannot create the folder {parent}: {exc.strerror or exc}.") from None
    probe = partial_path(target)
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise ExportError(_cannot_write(target, exc)) from None
    remove_quietly(probe)
    return target


def _cannot_write(target: Path, exc: OSError) -> str:
    if exc.errno == errno.ENAMETOOLONG:
        return (
            f"Cannot write {target}: the name is too long for the file system "
            f"({len(target.name.encode('utf-8', 'surrogateescape'))} bytes); choose a shorter one."
        )
    return f"Cannot write {target}: {exc.strerror or exc}. Choose another output path."


def partial_path(target: Path) -> Path:
    """A fresh temporary name in the target's folder (hidden, tagged with our pid)."""
    return target.with_name(f".{_partial_stem(target)}.{os.getpid()}-{secrets.token_hex(4)}{PARTIAL_SUFFIX}")


def _partial_stem(target: Path) -> str:
    """The target's name as partial files carry it: cut to ``PARTIAL_NAME_BYTES`` when longer."""
    raw = target.name.encode("utf-8", "surrogateescape")
    if len(raw) <= PARTIAL_NAME_BYTES:
        return target.name
    return raw[:PARTIAL_NAME_BYTES].decode("utf-8", "ignore")


def clean_stale_partials(target: Path) -> list[Path]:
    """Remove partial files of ``target`` left by processes that no longer exist (killed exports)."""
    removed: list[Path] = []
    stem = _partial_stem(target)
    prefix = f".{stem}."
    try:
        candidates = list(target.parent.glob(f".{_glob_escape(stem)}.*{PARTIAL_SUFFIX}"))
    except OSError:
        return removed
    for p in candidates:
        tag = p.name[len(prefix) : -len(PARTIAL_SUFFIX)]
        pid_text = tag.split("-", 1)[0]
        if not pid_text.isdigit() or _pid_alive(int(pid_text)):
            continue
        with contextlib.suppress(OSError):
            p.unlink()
            removed.append(p)
    return removed


@contextlib.contextmanager
def _replacing(target: Path, error: type[RecsysError],
               before_replace: Callable[[], None] | None = None) -> Iterator[Path]:
    """Yield a pid-tagged partial path; on success rename it onto ``target``, on any error delete it.

    A full disk becomes ``error`` with the disk-full message; ``target`` is then left as it was.
    """
    clean_stale_partials(target)
    tmp = partial_path(target)
    try:
        yield tmp
        if before_replace is not None:
            before_replace()
        os.replace(tmp, target)
    except BaseException as exc:
        remove_quietly(tmp)
        if is_disk_full(exc):
            raise error(disk_full_message(target, kept=os.path.lexists(target))) from None
        if isinstance(exc, OSError) and exc.filename in (str(tmp), str(target)):
            raise error(_cannot_write(target, exc)) from None
        raise


@contextlib.contextmanager
def atomic_target(target: Path, *, overwrite: bool, flag: str = "--overwrite") -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``target``, on any error it is deleted.

    The overwrite check runs again just before the rename, so whatever appeared at the target
    while we were writing is not clobbered either.
    """
    target = check_target(target, overwrite=overwrite, flag=flag)

    def still_free() -> None:
        reason = refusal(target, overwrite=overwrite, flag=flag)
        if reason:
            raise ExportError(f"{reason} (It appeared while the export was running and was left as it is.)")

    with _replacing(target, ExportError, still_free) as tmp:
        yield tmp


def write_atomically(target: Path, write: Callable[[Path], None], *,
                     error: type[RecsysError] = RecsysError) -> Path:
    """``write(tmp)`` then rename onto ``target``: for files the app rewrites in place (checkpoints).

    Unlike ``atomic_target`` an existing target is always replaced. A killed writer leaves only a
    pid-tagged partial file, removed by the next write; a full disk raises ``error`` with the
    disk-full message and keeps the old ``target``.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _replacing(target, error) as tmp:
        write(tmp)
    return target


def is_disk_full(exc: BaseException) -> bool:
    """True for "no space left" in any of its forms: errno, SQLite's SQLITE_FULL, Arrow's message text."""
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        return code == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return True
        text = str(exc).lower()
        return "no space left on device" in text or "[errno 28]" in text  # pyarrow wraps errno in text
    return False


def disk_full_message(target: Path, *, kept: bool = False) -> str:
    """``Disk full ... free space at <folder>``, with how much is free there now when that can be read."""
    folder = Path(target).parent
    free = ""
    with contextlib.suppress(OSError):
        free = f" ({shutil.disk_usage(folder).free / 2**20:,.0f} MB free there now)"
    old = f" The existing {Path(target).name} was left as it was." if kept else ""
    return f"Disk full while writing {target}: free space at {folder}{free} and try again.{old}"


def remove_quietly(path: Path) -> None:
    """Delete a file (and SQLite's side files) if present; errors here must not hide the real one."""
    for p in (path, Path(f"{path}-journal"), Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(OSError):
            p.unlink()


def _pid_alive(pid: int) -> bool:
    # On Windows os.kill(pid, 0) terminates the process instead of probing it: never clean there.
    if pid == os.getpid() or os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
