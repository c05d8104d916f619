"""The workspace folder: ``recsys.db`` plus ``runs/<id>/`` with checkpoints, spec and events."""

from __future__ import annotations

import os
from pathlib import Path

from recsys_gui.core.errors import ConfigError

ENV_VAR = "RECSYS_WORKSPACE"
# Kernel views, not storage: mkdir there fails with ENOENT or EPERM, which named no workspace.
PSEUDO_FILESYSTEMS = (Path("/proc"), Path("/sys"))


def default_workspace() -> Path:
    """``$RECSYS_WORKSPACE``, else the user's data folder (platformdirs)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("recsys-studio", appauthor=False)) / "workspace"


class Workspace:
    def __init__(self, root: Path | str | None = None) -> None:
        given = Path(root).expanduser() if root else default_workspace()
        try:
            self.root = given.resolve()
        except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop; a NUL in the name
            raise ConfigError(f"Workspace {given}: not a usable folder path ({exc}).") from None

    @property
    def db_path(self) -> Path:
        return self.root / "recsys.db"

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / run_id

    def checkpoint_dir(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "checkpoints"

    def ensure(self) -> Workspace:
        """Create the folder (and runs/) if needed; a path that cannot hold one is a one-line refusal."""
        if any(self.root == p or p in self.root.parents for p in PSEUDO_FILESYSTEMS):
            raise ConfigError(f"Workspace {self.root}: /{self.root.parts[1]} is a view of the running "
                              "system, not storage; choose a folder of your own for the workspace.")
        try:
            if self.root.exists() and not self.root.is_dir():
                raise ConfigError(f"Workspace {self.root} is a file, not a folder; choose a folder for it.")
            (self.root / "runs").mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a name too long, a parent that is a file, no permission, a full disk
            raise ConfigError(f"Workspace {self.root}: cannot create its folders "
                              f"({exc.strerror or exc}: {exc.filename or self.root}).") from None
        return self

    def relative(self, path: Path) -> str:
        try:
            return str(Path(path).resolve().relative_to(self.root))
        except ValueError:
            return str(path)

    def absolute(self, stored: str) -> Path:
        p = Path(stored)
        return p if p.is_absolute() else self.root / p
