"""What the pages share: the loaded data, the split choice, the workspace and the selected run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal


class AppState(QObject):
    data_changed = Signal()
    workspace_changed = Signal(str)
    runs_changed = Signal()
    current_run_changed = Signal(str)

    def __init__(self, workspace: str | Path | None = None) -> None:
        super().__init__()
        from recsys_gui.core.store.workspace import Workspace

        self.workspace = str(Workspace(workspace).root)
        self.data_path: str | None = None
        self.load_options: dict[str, Any] = {}
        self.item_metadata: str | None = None
        self.user_metadata: str | None = None  # user features file (cold start), from the Data page
        self.feature_options: dict[str, Any] = {}  # FeatureOptions fields: the Data page's unticked columns
        # Predefined split files ({"train", "valid", "test"} paths) when the Data page loaded them;
        # the interactions file is then the train file.
        self.split_files: dict[str, str | None] | None = None
        self.data: Any = None  # InteractionData
        self.report: Any = None  # LoadReport
        self.split_text: str = "ratio:8,1,1"
        self.current_run: str | None = None
        self.runs: list[dict[str, Any]] = []
        self.runs_error: str | None = None

    def refresh_runs(self) -> None:
        """Re-read the run store in a worker; ``runs_changed`` fires when the list is in."""
        from recsys_gui.gui import services
        from recsys_gui.gui.threading import error_text, run_in_thread

        ws = self.workspace

        def done(rows: list[dict[str, Any]]) -> None:
            if ws == self.workspace:
                self.runs, self.runs_error = rows, None
                self.runs_changed.emit()

        def failed(exc: BaseException, tb: str) -> None:
            self.runs_error = error_text(exc)
            self.runs_changed.emit()

        run_in_thread(services.list_runs, ws, on_result=done, on_error=failed)

    def finished_runs(self) -> list[dict[str, Any]]:
        ended = ("completed", "early_stopped", "cancelled", "pruned")
        return [r for r in self.runs if r.get("status") in ended]

    def set_data(self, path: str, options: dict[str, Any], metadata: str | None, data: Any,
                 report: Any) -> None:
        self.data_path, self.load_options, self.item_metadata = path, dict(options), metadata
        self.data, self.report = data, report
        self.data_changed.emit()

    def set_workspace(self, path: str | Path) -> None:
        from recsys_gui.core.store.workspace import Workspace

        self.workspace = str(Workspace(path).ensure().root)
        self.runs = []
        self.workspace_changed.emit(self.workspace)
        self.refresh_runs()

    def set_current_run(self, run_id: str | None) -> None:
        if run_id and run_id != self.current_run:
            self.current_run = run_id
            self.current_run_changed.emit(run_id)

    def data_spec(self) -> Any:
        from recsys_gui.core.session import DataSpec

        if self.split_files:
            files = self.split_files
            return DataSpec(train=files.get("train") or self.data_path, valid=files.get("valid"),
                            test=files.get("test"), item_metadata=self.item_metadata,
                            options=dict(self.load_options), user_metadata=self.user_metadata,
                            features=dict(self.feature_options))
        return DataSpec(path=self.data_path, item_metadata=self.item_metadata,
                        options=dict(self.load_options), user_metadata=self.user_metadata,
                        features=dict(self.feature_options))
