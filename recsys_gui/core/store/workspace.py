"""The workspace folder: ``recsys.db`` plus ``runs/<id>/`` with checkpoints, spec and events."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "RECSYS_WORKSPACE"


def default_workspace() -> Path:
    """``$RECSYS_WORKSPACE``, else the user's data folder (platformdirs)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("recsys-studio", appauthor=False)) / "workspace"


class Workspace:
    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root).expanduser().resolve() if root else default_workspace().resolve()

    @property
    def db_path(self) -> Path:
        return self.root / "recsys.db"

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / run_id

    def checkpoint_dir(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "checkpoints"

    def ensure(self) -> Workspace:
        (self.root / "runs").mkdir(parents=True, exist_ok=True)
        return self

    def relative(self, path: Path) -> str:
        try:
            return str(Path(path).resolve().relative_to(self.root))
        except ValueError:
            return str(path)

    def absolute(self, stored: str) -> Path:
        p = Path(stored)
        return p if p.is_absolute() else self.root / p
