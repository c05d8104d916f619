"""The Tune mode of the Train page: search the model's settings, watch the trials, open the best.

The search is core ``tuning.search.tune`` on a worker thread (``worker.run_search``); each finished
trial arrives as one JSON event through the task's progress signal, so the GUI thread only draws.
Trials are ordinary runs in the workspace (tagged with the study's name), the study lives in the
workspace's tuning.db, and "Use best" opens the best trial on the Results page like any run.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pandas as pd
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from recsys_gui.gui.panels.tune import plots
from recsys_gui.gui.panels.tune.space_table import SpaceTable, candidate_params
from recsys_gui.gui.panels.tune.worker import run_search
from recsys_gui.gui.qtmodels.frame_model import FrameModel
from recsys_gui.gui.threading import Task, error_text, run_in_thread
from recsys_gui.gui.widgets import Message

LOWER_IS_BETTER = ("rmse", "mae")


class TunePanel(QWidget):
    finished = Signal(dict)  # the search's summary (best_run_id, best_params, valid, test, …)

    def __init__(self, state: Any, model_panel: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state, self.model_panel = state, model_panel
        self.task: Task | None = None
        self.trials: list[dict[str, Any]] = []
        self.params: list[dict[str, Any]] = []
        self.importance: dict[str, float] = {}
        self.result: dict[str, Any] | None = None
        self.maximize = True
        self._t0 = 0.0
        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        root.addLayout(self._build_bar())
        self.message = Message()
        root.addWidget(self.message)

        split = QSplitter(Qt.Orientation.Horizontal)
        space_box = QGroupBox("Settings to search")
        sl = QVBoxLayout(space_box)
        hint = QLabel("Tick the settings to search. Ranges: LOW:HIGH for numbers, A|B for choices; "
                      "prefilled from each setting's own range around its current value.")
        hint.setWordWrap(True)
        hint.setProperty("role", "hint")
        sl.addWidget(hint)
        self.space_table = SpaceTable()
        sl.addWidget(self.space_table, 1)
        self.reset_btn = QPushButton("Reset ranges")
        self.reset_btn.clicked.connect(lambda: self._model_changed(getattr(model_panel, "current_model", "")))
        sl.addWidget(self.reset_btn)
        split.addWidget(space_box)

        right = QSplitter(Qt.Orientation.Vertical)
        self.trials_model = FrameModel()
        self.trials_view = QTableView()
        self.trials_view.setModel(self.trials_model)
        self.trials_view.verticalHeader().setVisible(False)
        self.trials_view.setAlternatingRowColors(True)
        self.trials_view.doubleClicked.connect(self._open_trial)
        right.addWidget(self.trials_view)
        row = QSplitter(Qt.Orientation.Horizontal)
        self.best_plot = plots.best_so_far_plot()
        self.best_against = QComboBox()
        self.best_against.addItem("against trial", "trial")
        self.best_against.addItem("against time", "time")
        self.best_against.setToolTip("Best so far by trial number, or by minutes since the search started")
        self.best_against.currentIndexChanged.connect(lambda _i: self._redraw())
        best_box = QWidget()
        best_lay = QVBoxLayout(best_box)
        best_lay.setContentsMargins(0, 0, 0, 0)
        best_lay.addWidget(self.best_against, 0, Qt.AlignmentFlag.AlignRight)
        best_lay.addWidget(self.best_plot, 1)
        self.importance_plot = plots.importance_plot()
        row.addWidget(best_box)
        row.addWidget(self.importance_plot)
        # pyqtgraph draws past a plot narrower than its axes and title need: keep them that wide
        self.best_plot.setMinimumWidth(300)
        self.importance_plot.setMinimumWidth(340)
        row.setSizes([500, 500])
        right.addWidget(row)
        self.parallel_plot = plots.parallel_plot()
        right.addWidget(self.parallel_plot)
        right.setSizes([200, 260, 260])
        split.addWidget(right)
        split.setStretchFactor(1, 1)  # the plots take what is left; the table keeps its width
        split.setSizes([380, 960])
        root.addWidget(split, 1)
        model_panel.model_changed.connect(self._model_changed)
        self._model_changed(getattr(model_panel, "current_model", None))

    def _build_bar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        self.start_btn = QPushButton("Start search")
        self.start_btn.setProperty("primary", True)
        self.start_btn.setToolTip("Search the ticked settings on the Data page's data and the Model page's "
                                  "model; every trial is a run in the workspace, chosen on validation.")
        self.start_btn.clicked.connect(lambda: self.start())
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setEnabled(False)
        self.stop_btn.setToolTip("End the search after the current trial's next batch; finished trials stay.")
        self.stop_btn.clicked.connect(self.stop)
        self.trials_spin = QSpinBox()
        self.trials_spin.setRange(1, 10000)
        self.trials_spin.setValue(20)
        self.trials_spin.setPrefix("Trials: ")
        self.minutes_spin = QDoubleSpinBox()
        self.minutes_spin.setRange(0, 10000)
        self.minutes_spin.setDecimals(1)
        self.minutes_spin.setValue(30)
        self.minutes_spin.setPrefix("Minutes: ")
        self.minutes_spin.setSpecialValueText("Minutes: no limit")
        self.minutes_spin.setToolTip("Wall-time budget of the trials (0: none); the search ends at whichever "
                                     "of trials and minutes comes first.")
        self.seeds_spin = QSpinBox()
        self.seeds_spin.setRange(1, 100)
        self.seeds_spin.setPrefix("Seeds: ")
        self.seeds_spin.setToolTip("Re-train the best settings with this many seeds (mean ± std per metric).")
        self.use_best_btn = QPushButton("Use best")
        self.use_best_btn.setEnabled(False)
        self.use_best_btn.setToolTip("Open the best trial (on validation) on the Results page.")
        self.use_best_btn.clicked.connect(self.use_best)
        for w in (self.start_btn, self.stop_btn, self.trials_spin, self.minutes_spin, self.seeds_spin,
                  self.use_best_btn):
            bar.addWidget(w)
        bar.addStretch(1)
        self.status_label = QLabel("idle")
        self.status_label.setObjectName("tune_status")
        bar.addWidget(self.status_label)
        return bar

    # --- the space ---------------------------------------------------------------------------------
    def _model_changed(self, name: str | None) -> None:
        if not name or self.busy:
            return
        try:
            self.space_table.fill(candidate_params(name, *self._current_values()))
        except Exception as exc:  # a plug-in model with odd settings: say so, keep the page
            self.space_table.setRowCount(0)
            self.message.error(error_text(exc))

    def _current_values(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The Model page's values (ranges centre on them), or the defaults when the forms are not valid."""
        try:
            return dict(self.model_panel.model_values() or {}), dict(self.model_panel.train_values() or {})
        except Exception:  # a form mid-edit: the defaults are a fine centre
            return {}, {}

    # --- running -----------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.task is not None

    def start(self, spec: Any = None) -> bool:
        """Search ``spec`` (by default the Data and Model pages' run) over the ticked settings."""
        if self.busy:
            self.message.warning("A search is running; stop it first.")
            return False
        if spec is None:
            if self.state.data_path is None:
                self.message.error("Open a data file on the Data page first.")
                return False
            spec = self.model_panel.build_spec(self.state.data_spec(), self.state.split_text)
            if spec is None:
                self.message.error("The settings on the Model page are not valid; fix them there first.")
                return False
        search = self.space_table.search_text()
        if not search:
            self.message.error("Tick at least one setting to search.")
            return False
        metric = spec.train_config().early_stop_metric or ""
        self.maximize = metric.split("@")[0].lower() not in LOWER_IS_BETTER
        self.trials, self.importance, self.result, self.params = [], {}, None, []
        self._redraw()
        self.use_best_btn.setEnabled(False)
        self.start_btn.setEnabled(False)
        self.stop_btn.setEnabled(True)
        self._t0 = time.monotonic()
        minutes = self.minutes_spin.value() or None
        self.status_label.setText(f"searching {spec.model} on {metric}…")
        self.message.show_message(f"Searching {search}")
        self.task = run_in_thread(
            run_search, self.state.workspace, spec, search, self.trials_spin.value(), minutes,
            self.seeds_spin.value(), on_progress=self._on_event, on_result=self._done, on_error=self._failed,
            on_finished=self._finished, with_stop=True,
        )
        return True

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.status_label.setText("stopping after the current trial…")

    def _on_event(self, fraction: float, text: str) -> None:
        try:
            event = json.loads(text)
        except ValueError:
            return
        if event.get("kind") == "space":
            self.params = event["params"]
            return
        if event.get("kind") != "trial":
            return
        event["elapsed"] = time.monotonic() - self._t0  # when the trial ended, for best so far vs time
        self.trials.append(event)
        if event.get("importance"):
            self.importance = event["importance"]
        best = event.get("best_value")
        self.status_label.setText(
            f"trial {event['number'] + 1} of {self.trials_spin.value()}"
            + (f", best {best:.4f} (#{event['best_number'] + 1})" if best is not None else "")
            + f", {time.monotonic() - self._t0:.0f} s"
        )
        self._redraw()

    def _redraw(self) -> None:
        rows = []
        for t in self.trials:
            rows.append({"trial": t["number"] + 1, "state": t["state"], "value": t.get("value"),
                         "seconds": t.get("seconds"), **(t.get("params") or {}),
                         "run": t.get("run_id") or "", "note": t.get("error") or ""})
        frame = pd.DataFrame(rows)
        best_n = self.trials[-1].get("best_number") if self.trials else None
        highlight = (frame["trial"] == (best_n + 1)).to_numpy() if len(frame) and best_n is not None else None
        self.trials_model.set_frame(frame, highlight=highlight)
        self.trials_view.resizeColumnsToContents()
        plots.draw_best_so_far(self.best_plot, self.trials, self.maximize, self.best_against.currentData())
        plots.draw_parallel(self.parallel_plot, self.params, self.trials)
        plots.draw_importance(self.importance_plot, self.importance)

    def _done(self, summary: dict[str, Any]) -> None:
        self.result = summary
        self.use_best_btn.setEnabled(bool(summary.get("best_run_id")))
        valid = summary.get("valid") or {}
        test = summary.get("test") or {}
        metric = next(iter(valid), "")
        spread = ""
        if summary.get("std"):
            m, s = summary["mean"]["test"], summary["std"]["test"]
            spread = f"; test over {summary['n']} seeds: " + ", ".join(f"{k} {m[k]:.4f} ± {s[k]:.4f}"
                                                                       for k in list(m)[:3])
        self.message.ok(
            f"Best: trial #{summary['best_trial'] + 1} of {summary['trials']} ({summary['pruned']} pruned, "
            f"{summary['failed']} failed): validation {metric} {valid.get(metric, float('nan')):.4f}, "
            f"test {test.get(metric, float('nan')):.4f}{spread}."
        )
        self.state.refresh_runs()
        self.finished.emit(summary)

    def _failed(self, exc: BaseException, tb: str) -> None:
        self.message.error(error_text(exc))
        self.state.refresh_runs()

    def _finished(self) -> None:
        self.task = None
        self.start_btn.setEnabled(True)
        self.stop_btn.setEnabled(False)
        self.status_label.setText(f"done in {time.monotonic() - self._t0:.0f} s" if self.result else "idle")

    # --- opening trials ----------------------------------------------------------------------------
    def use_best(self) -> None:
        if self.result and self.result.get("best_run_id"):
            self._open(self.result["best_run_id"])

    def _open_trial(self, index: Any) -> None:
        frame = self.trials_model.frame()
        run_id = frame.iloc[index.row()]["run"] if frame is not None and len(frame) > index.row() else ""
        if run_id:
            self._open(str(run_id))

    def _open(self, run_id: str) -> None:
        """Make ``run_id`` the current run and show the Results page (through the window's ``go``)."""
        self.state.refresh_runs()
        self.state.set_current_run(run_id)
        window = self.window()
        if hasattr(window, "go"):
            window.go("Results")
