"""Train page: start, stop, resume and queue runs; live loss and validation curves; a log.

Its Tune mode (a second tab, ``panels/tune``) searches the same model's settings on the same data.

Every run goes through the page's ``TrainingController``: it trains in a child process (one, or
several through torchrun) whose events.jsonl feeds ``on_event``.
"""

from __future__ import annotations

import time
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from recsys_gui.core.training import events as ev
from recsys_gui.gui.external_run import can_run_several_processes
from recsys_gui.gui.panels.tune.page import TunePanel
from recsys_gui.gui.plots.live_curves import LiveCurveSet
from recsys_gui.gui.theme import icon
from recsys_gui.gui.training_controller import QueuedRun, TrainingController
from recsys_gui.gui.widgets import Message, title


class TrainPanel(QWidget):
    finished = Signal(dict)  # summary of a finished (or cancelled) run
    failed = Signal(str)

    def __init__(self, state: Any, model_panel: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state, self.model_panel = state, model_panel
        self.controller = TrainingController(self)
        self.controller.event.connect(self.on_event)
        self.controller.run_started.connect(self._run_started)
        self.controller.run_finished.connect(self._run_finished)
        self.controller.run_failed.connect(self._run_failed)
        self.controller.queue_changed.connect(self._queue_changed)
        self.controller.busy_changed.connect(self._busy_changed)
        self.status = "idle"
        self.last_summary: dict[str, Any] | None = None
        self._epochs = 0
        self._n_batches = 0
        self._epoch = 0
        self._t0 = 0.0
        self._steps_done = 0

        page = QVBoxLayout(self)
        page.addWidget(title("Train", "Train the model chosen on the Model page on the data from the Data "
                             "page. Runs are kept in the workspace; queue several to train one after "
                             "another, or Tune: search the model's settings."))
        # two modes on one page: Train runs one spec, Tune searches around it (same data and model)
        self.mode_tabs = QTabWidget()
        page.addWidget(self.mode_tabs, 1)
        train_mode = QWidget()
        self.mode_tabs.addTab(train_mode, "Train")
        root = QVBoxLayout(train_mode)
        root.setContentsMargins(0, 6, 0, 0)
        bar = QHBoxLayout()
        self.start_btn = QPushButton(icon("play"), "Start")
        self.start_btn.setProperty("primary", True)
        self.start_btn.setToolTip("Train now (Ctrl+R).")
        self.start_btn.clicked.connect(self.start)
        self.queue_btn = QPushButton("Add to queue")
        self.queue_btn.setToolTip("Queue a run with the current settings; it starts when the runs before it "
                                  "end.")
        self.queue_btn.clicked.connect(lambda: self.start(queue=True))
        self.stop_btn = QPushButton(icon("stop"), "Stop")
        self.stop_btn.setEnabled(False)
        self.stop_btn.setToolTip("Stop after the current batch; the best checkpoint so far is kept (Esc).")
        self.stop_btn.clicked.connect(self.stop)
        self.resume_combo = QComboBox()
        self.resume_combo.setMinimumWidth(260)
        self.resume_combo.setToolTip("A stopped or interrupted run to continue from its last checkpoint.")
        self.resume_btn = QPushButton("Resume")
        self.resume_btn.clicked.connect(self.resume)
        self.processes = QSpinBox()
        self.processes.setRange(1, 64)
        self.processes.setValue(1)
        self.processes.setPrefix("Processes: ")
        for w in (self.start_btn, self.queue_btn, self.stop_btn, self.processes):
            bar.addWidget(w)
        bar.addSpacing(20)
        bar.addWidget(QLabel("Resume:"))
        bar.addWidget(self.resume_combo, 1)
        bar.addWidget(self.resume_btn)
        root.addLayout(bar)
        self.message = Message()
        root.addWidget(self.message)

        prog = QGridLayout()
        self.progress = QProgressBar()
        self.progress.setFormat("%p%")
        self.progress.setValue(0)
        self.epoch_label = QLabel("Epoch –")
        self.speed_label = QLabel("– batches/s")
        self.eta_label = QLabel("ETA –")
        self.gpu_label = QLabel("")
        self.status_label = QLabel("idle")
        self.status_label.setObjectName("train_status")
        prog.addWidget(self.progress, 0, 0, 1, 6)
        for i, w in enumerate((self.status_label, self.epoch_label, self.speed_label, self.eta_label,
                               self.gpu_label)):
            prog.addWidget(w, 1, i)
        root.addLayout(prog)

        split = QSplitter(Qt.Orientation.Vertical)
        plots = QSplitter(Qt.Orientation.Horizontal)
        self.loss_plot = pg.PlotWidget(title="Training losses (per logged step)")
        self.loss_plot.setLabel("bottom", "epoch")
        self.metric_plot = pg.PlotWidget(title="Validation metrics (per epoch)")
        self.metric_plot.setLabel("bottom", "epoch")
        self.losses = LiveCurveSet(self.loss_plot)
        self.metrics = LiveCurveSet(self.metric_plot, symbols=True)
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.metric_plot)
        split.addWidget(plots)
        lower = QSplitter(Qt.Orientation.Horizontal)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.log.setPlaceholderText("Run log")
        lower.addWidget(self.log)
        qbox = QGroupBox("Queue")
        ql = QVBoxLayout(qbox)
        self.queue_list = QListWidget()
        ql.addWidget(self.queue_list)
        self.clear_queue_btn = QPushButton("Clear queue")
        self.clear_queue_btn.clicked.connect(self.controller.clear_queue)
        ql.addWidget(self.clear_queue_btn)
        lower.addWidget(qbox)
        lower.setSizes([900, 300])
        split.addWidget(lower)
        split.setSizes([520, 220])
        root.addWidget(split, 1)

        self.tune_page = TunePanel(state, model_panel)
        self.mode_tabs.addTab(self.tune_page, "Tune")

        self._losses_first = False
        self.timer = QTimer(self)
        self.timer.setInterval(66)  # ~15 Hz redraws, only when buffers changed
        self.timer.timeout.connect(self._redraw)
        self.timer.start()
        state.runs_changed.connect(self._fill_resume)
        model_panel.model_changed.connect(self._model_changed)
        self._model_changed(getattr(model_panel, "current_model", None))
        from PySide6.QtCore import QCoreApplication

        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.controller.shutdown)

    # --- actions ---------------------------------------------------------------------------------
    def make_job(self, spec: Any = None) -> QueuedRun | None:
        """A run of ``spec``, by default the one the Data and Model pages describe (None: told why)."""
        if spec is None:
            if self.state.data_path is None:
                self.message.error("Open a data file on the Data page first.")
                return None
            spec = self.model_panel.build_spec(self.state.data_spec(), self.state.split_text)
            if spec is None:
                self.message.error("The settings on the Model page are not valid; fix them there first.")
                return None
        processes = self.processes.value() if self.processes.isEnabled() else 1
        return QueuedRun(spec=spec, workspace=self.state.workspace, processes=processes)

    def start(self, *, queue: bool = False, spec: Any = None) -> bool:
        """Train now, or after the current run when one is going (``queue`` only changes the message)."""
        job = self.make_job(spec)
        if job is None:
            return False
        self.message.clear_message()
        if self.controller.busy:
            self.message.show_message(f"Queued: {job.title}. It starts when the current run ends.")
        self.controller.enqueue(job)
        return True

    def stop(self) -> None:
        if self.controller.busy:
            self.status = "stopping"
            self.status_label.setText("stopping…")
            self.stop_btn.setEnabled(False)
            self.controller.stop()

    def resume(self, row: dict[str, Any] | None = None) -> bool:
        """Continue a stopped run from its last checkpoint: ``row`` (a run-store row), else the one
        picked in the Resume box."""
        if row is None:
            run_id = self.resume_combo.currentData()
            row = next((r for r in self.state.runs if r["id"] == run_id), None) if run_id else None
            if row is None:
                self.message.error("There is no stopped run to resume.")
                return False
        from recsys_gui.core.errors import RecsysError
        from recsys_gui.core.session import stored_spec

        try:
            spec = stored_spec(row)
        except RecsysError as exc:
            self.message.error(str(exc))
            return False
        self.controller.enqueue(QueuedRun(spec=spec, workspace=self.state.workspace, resume_run_id=row["id"]))
        return True

    def _model_changed(self, name: str | None) -> None:
        """Several processes (DDP) only help models that train in steps; closed forms run once."""
        from recsys_gui.core.models import get_model_class

        try:
            iterative = bool(name) and get_model_class(name).capabilities.iterative
        except Exception:
            iterative = False
        ok = iterative and can_run_several_processes()
        self.processes.setEnabled(ok)
        if not can_run_several_processes():
            why = "This packaged app trains in one process; use the recsys-gui command for torchrun."
        elif not iterative:
            why = "This model is fitted in one closed-form pass; more processes would not help."
        else:
            why = ("1: one training process. 2 or more: DistributedDataParallel with torchrun (NCCL on GPUs, "
                   "gloo on the CPU). Either way the run trains beside the app and the curves follow its "
                   "events file.")
        self.processes.setToolTip(why)

    # --- controller signals ----------------------------------------------------------------------
    def _run_started(self, job: Any) -> None:
        self.losses.clear()
        self.metrics.clear()
        self.progress.setValue(0)
        self._t0 = time.monotonic()
        self._steps_done = 0
        self._stepped_epoch = None
        self.message.clear_message()
        self.status = "running"
        self.status_label.setText("starting…")
        self._log(f"— Starting {job.title}")

    def _busy_changed(self, busy: bool) -> None:
        self.stop_btn.setEnabled(busy)
        self.start_btn.setText("Start (queues)" if busy else "Start")
        self.resume_btn.setEnabled(not busy)

    def _queue_changed(self) -> None:
        self.queue_list.clear()
        for job in self.controller.queue:
            self.queue_list.addItem(job.title)

    def _run_finished(self, summary: dict[str, Any]) -> None:
        self.last_summary = summary
        self.status = summary.get("status", "completed")
        self.status_label.setText(self.status)
        if self.status == "completed" or self.status == "early_stopped":
            self.progress.setValue(100)
        test = summary.get("test") or {}
        # the metrics validated during the run first (the child's JSON sorts its keys: arp@10 first)
        first = [k for k in self.metrics.series if k in test]
        keys = [*first, *(k for k in test if k not in first)][:4]
        shown = ", ".join(f"{k} {test[k]:.4f}" for k in keys)
        self._log(f"— Run {summary.get('run_id') or ''} {self.status}" + (f": test {shown}" if shown else ""))
        self.eta_label.setText("ETA –")
        self.losses.request_fit()
        self.metrics.request_fit()
        self.state.refresh_runs()
        if summary.get("run_id"):
            self.state.set_current_run(summary["run_id"])
        self.finished.emit(summary)

    def _run_failed(self, message: str, tb: str) -> None:
        self.status = "failed"
        self.status_label.setText("failed")
        self.message.error(message)
        self._log(f"— Run failed: {message}")
        self.state.refresh_runs()
        self.failed.emit(message)
        if self.isVisible() and not self.property("quiet"):
            box = QMessageBox(QMessageBox.Icon.Critical, "Training failed", message, parent=self)
            box.setDetailedText(tb)
            box.open()

    def on_event(self, e: ev.TrainingEvent) -> None:
        """Slot in the GUI thread: append to buffers and labels; the timer redraws."""
        if isinstance(e, ev.RunStarted):
            self._epochs, self._n_batches = e.epochs, e.batches_per_epoch
            self.status_label.setText("running")
            self._log(f"Run {e.run_id}: {e.model} on {e.device}; {e.n_users:,} users × {e.n_items:,} items, "
                      f"{e.n_train:,} training rows; up to {e.epochs} epochs")
        elif isinstance(e, ev.EpochStarted):
            self._epoch, self._n_batches = e.epoch, e.n_batches or self._n_batches
            self.epoch_label.setText(f"Epoch {e.epoch + 1}/{self._epochs or '?'}")
        elif isinstance(e, ev.StepLogged):
            self._stepped_epoch = e.epoch
            x = e.epoch + (e.step + 1) / max(self._n_batches, 1)  # epochs count from 0
            for k, v in e.losses.items():
                self.losses.append(k, x, v)
            self.speed_label.setText(f"{e.batches_per_s:,.1f} batches/s")
            total = max(self._epochs * max(self._n_batches, 1), 1)
            done = e.epoch * max(self._n_batches, 1) + e.step + 1
            self.progress.setValue(min(99, int(100 * done / total)))
            if e.batches_per_s > 0:
                self.eta_label.setText(f"ETA {_duration((total - done) / e.batches_per_s)} (at most)")
            if e.gpu_memory_mb is not None:
                self.gpu_label.setText(f"GPU memory {e.gpu_memory_mb:,.0f} MB")
        elif isinstance(e, ev.EpochEnded):
            loss = ", ".join(f"{k} {v:.4f}" for k, v in e.losses.items())
            self._log(f"epoch {e.epoch + 1}: {loss} ({e.seconds:.2f} s)")
            if getattr(self, "_stepped_epoch", None) != e.epoch:
                # short epochs may log no step at all: plot the epoch's losses instead
                for k, v in e.losses.items():
                    self.losses.append(k, float(e.epoch + 1), v)
            if self._epochs:
                self.progress.setValue(min(99, int(100 * (e.epoch + 1) / self._epochs)))
        elif isinstance(e, ev.ValidationEnded):
            for k, v in e.metrics.items():
                self.metrics.append(k, e.epoch + 1, v)
            shown = ", ".join(f"{k} {v:.4f}" for k, v in list(e.metrics.items())[:3])
            self._log(f"  validation {e.epoch + 1}: {shown}" + ("  ★ best" if e.is_best else ""))
        elif isinstance(e, ev.Message):
            self._log(f"[{e.level}] {e.text}")
        elif isinstance(e, ev.RunFinished):
            self._log(f"finished: {e.status}; best epoch {ev.shown_epoch(e.best_epoch)}; {e.seconds:.1f} s")
        elif isinstance(e, ev.RunFailed):
            self._log(f"error: {e.error_type}: {e.message}")

    # --- helpers ---------------------------------------------------------------------------------
    def _redraw(self) -> None:
        """One plot per tick, taking turns: an epoch's events dirty both, and a repaint of both is
        twice as long a stretch of the GUI thread."""
        if not self.isVisible():
            return
        self._losses_first = not self._losses_first
        first, second = (self.losses, self.metrics) if self._losses_first else (self.metrics, self.losses)
        if not first.redraw_if_dirty():
            second.redraw_if_dirty()

    def flush_plots(self) -> None:
        """Everything on the plots now (screenshots, tests), not a curve per tick."""
        for curves in (self.losses, self.metrics):
            while curves.redraw_if_dirty():
                pass

    def _log(self, text: str) -> None:
        self.log.appendPlainText(f"{time.strftime('%H:%M:%S')}  {text}")

    def _fill_resume(self) -> None:
        keep = self.resume_combo.currentData()
        self.resume_combo.clear()
        for r in self.state.runs:
            if r.get("status") in ("cancelled", "interrupted", "failed"):
                self.resume_combo.addItem(f"{r.get('name') or r['id']} [{r['status']}]", r["id"])
        if not self.resume_combo.count():
            self.resume_combo.addItem("(no stopped runs)", None)
        i = self.resume_combo.findData(keep)
        self.resume_combo.setCurrentIndex(max(i, 0))


def _duration(s: float) -> str:
    s = int(max(s, 0))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"
