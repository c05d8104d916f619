"""A training run in a child process (``recsys-gui train``, through torchrun for several processes).

Every run the window starts trains this way (``training_controller`` queues them): the window's
process never trains, so no GIL, allocator or thread pool is shared with the GUI thread. The
protocol is the run's ``events.jsonl`` (ARCHITECTURE.md §3): a QTimer reads the bytes added since
the last look, turns each line back into a core event and emits it. Stopping writes
``runs/<id>/STOP``; rank 0 sees it and the trainer all-reduces the flag, so every rank leaves on the
same step. The GUI thread never waits (except at exit, in ``shutdown``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from recsys_gui.core.training import events as ev

_CHILD_NICE = 10  # the training process's CPU priority (0 normal, 19 lowest)
_TAIL_BYTES = 20_000  # of stderr, kept for the error message
_STEPS_PER_POLL = 8  # step events passed on per look at the file (the last one always)


def is_frozen() -> bool:
    """A packaged app (PyInstaller): its executable is the ``recsys-gui`` command, with no Python."""
    return bool(getattr(sys, "frozen", False))


def can_run_several_processes() -> bool:
    """torchrun needs a Python interpreter; a packaged app has none to hand it."""
    return not is_frozen()


def train_command(run_id: str, workspace: str, *, spec_file: Path | None = None, processes: int = 1,
                  python: str | None = None) -> list[str]:
    """The child's argv: a new run from ``spec_file`` with id ``run_id``, or (no spec file) a resume.

    From a source or pip install: ``python -m recsys_gui train ...``, through torchrun for several
    processes. A packaged app relaunches its own executable with the ``train`` subcommand.
    """
    run = ["--spec", str(spec_file), "--run-id", run_id] if spec_file is not None else ["--resume", run_id]
    train = ["train", *run, "--workspace", str(workspace), "--json", "--quiet"]
    if is_frozen():
        return [sys.executable, *train]
    python = python or sys.executable
    if processes <= 1:
        return [python, "-m", "recsys_gui", *train]
    return [python, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes),
            "-m", "recsys_gui", *train]


class ExternalRun(QObject):
    """Starts one run in a QProcess and follows its event file until the process ends.

    ``resume_run_id`` continues that stopped run (``train --resume``); the follower starts at the end
    of the run's event file, so the events of its earlier life are not replayed.
    """

    event = Signal(object)  # a core TrainingEvent
    finished = Signal(dict)  # summary, as RunOutcome.summary() (status may be "cancelled")
    failed = Signal(str, str)  # message, details
    done = Signal()  # after finished or failed: the process is gone

    def __init__(self, spec: Any, workspace: str, *, processes: int = 1, resume_run_id: str | None = None,
                 poll_ms: int = 150, parent: QObject | None = None) -> None:
        super().__init__(parent)
        from recsys_gui.core.store.run_store import new_run_id
        from recsys_gui.core.store.workspace import Workspace

        self.spec, self.processes = spec, max(1, int(processes))
        self.resume_run_id = resume_run_id
        self.workspace = Workspace(workspace).ensure()
        self.run_id = resume_run_id or new_run_id(spec.model)
        self.run_dir = self.workspace.run_dir(self.run_id)
        self.events_path = self.run_dir / "events.jsonl"
        self.status: str | None = None  # from RunFinished, once seen
        self._offset, self._partial = 0, b""
        if resume_run_id is not None:
            with contextlib.suppress(OSError):
                self._offset = self.events_path.stat().st_size
        self._finished_event: ev.RunFinished | None = None
        self._failed_event: ev.RunFailed | None = None
        self._stdout, self._stderr = b"", b""
        self._ended = False
        self.process = QProcess(self)
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._on_finished)
        self.process.errorOccurred.connect(self._on_error)
        self.process.started.connect(self._lower_priority)
        self.timer = QTimer(self)
        self.timer.setInterval(poll_ms)
        self.timer.timeout.connect(self.poll)

    @property
    def running(self) -> bool:
        return self.process.state() != QProcess.ProcessState.NotRunning

    @property
    def spec_file(self) -> Path | None:
        """Where a new run's spec is written for the child; a resumed run's is in the run store."""
        return None if self.resume_run_id else self.run_dir / "launch_spec.json"

    def command(self) -> list[str]:
        return train_command(self.run_id, str(self.workspace.root), spec_file=self.spec_file,
                             processes=self.processes)

    def start(self) -> None:
        """Write the spec beside the run and start the process; returns at once."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.spec_file is not None:
            self.spec_file.write_text(json.dumps(self.spec.to_dict(), indent=2))
        argv = self.command()
        self.process.setProcessEnvironment(self._environment())
        self.process.setWorkingDirectory(str(self.workspace.root))
        self.process.start(argv[0], argv[1:])
        self.timer.start()

    def stop(self) -> None:
        """Ask every rank to stop after the current step (the run keeps its best checkpoint)."""
        from recsys_gui.core.training.control import request_stop_file

        request_stop_file(self.run_dir)

    def shutdown(self, msecs: int = 15000) -> bool:
        """At exit only: stop, wait up to ``msecs``, then terminate. True when the process is gone."""
        if not self.running:
            return True
        self.stop()
        if not self.process.waitForFinished(msecs):
            self.process.terminate()  # SIGTERM: torchrun passes it on and each rank stops cleanly
            if not self.process.waitForFinished(5000):
                self.process.kill()
                self.process.waitForFinished(2000)
        return not self.running

    def _lower_priority(self) -> None:
        """Run the child at a lower CPU priority (nice 10), as background work should be: when both
        want a core the window is served first, and training loses only what the window uses.
        Threads the child starts later (torch's) inherit it. Not on Windows (no ``setpriority``)."""
        pid = int(self.process.processId())
        if pid > 0 and hasattr(os, "setpriority"):
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, pid, max(os.getpriority(os.PRIO_PROCESS, pid), _CHILD_NICE))

    # --- following the event file -------------------------------------------------------------------
    def poll(self) -> None:
        """Read what was appended to ``events.jsonl`` since the last call and emit complete lines."""
        try:
            with self.events_path.open("rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
        except FileNotFoundError:
            return
        if not chunk:
            return
        self._offset += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        events = [e for e in map(self._parse, lines) if e is not None]
        steps = [k for k, e in enumerate(events) if isinstance(e, ev.StepLogged)]
        # The child logs every step; the page needs a few curve points per look, not thousands.
        keep = set(steps[-1::-max(1, -(-len(steps) // _STEPS_PER_POLL))])
        for k, e in enumerate(events):
            if isinstance(e, ev.StepLogged) and k not in keep:
                continue
            if isinstance(e, ev.RunFinished):
                self._finished_event, self.status = e, e.status
            elif isinstance(e, ev.RunFailed):
                self._failed_event = e
            self.event.emit(e)

    @staticmethod
    def _parse(line: bytes) -> ev.TrainingEvent | None:
        if not line.strip():
            return None
        try:
            return ev.TrainingEvent.from_dict(json.loads(line))
        except (ValueError, KeyError, TypeError):
            return None  # a line from a newer or older version: skip it rather than stop following

    # --- process end ---------------------------------------------------------------------------------
    def _read_stdout(self) -> None:
        self._stdout = (self._stdout + bytes(self.process.readAllStandardOutput()))[-_TAIL_BYTES:]

    def _read_stderr(self) -> None:
        self._stderr = (self._stderr + bytes(self.process.readAllStandardError()))[-_TAIL_BYTES:]

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._end_failed(f"Could not start the training process ({self.command()[0]}): "
                             f"{self.process.errorString()}", "")

    def _on_finished(self, exit_code: int, _status: QProcess.ExitStatus) -> None:
        self._read_stdout()
        self._read_stderr()
        self.poll()
        if self._finished_event is not None:
            self._end(self._summary(self._finished_event))
        elif self._failed_event is not None:
            e = self._failed_event
            self._end_failed(e.message or e.error_type, e.traceback)
        elif exit_code == 3:
            self._end({"status": "cancelled", "run_id": self.resume_run_id, "model": self.spec.model})
        else:
            err = self._stderr.decode("utf-8", "replace")
            message = _error_line(err) or f"The training process ended with exit code {exit_code}."
            self._end_failed(message, err)

    def _summary(self, e: ev.RunFinished) -> dict[str, Any]:
        """The CLI's JSON line when stdout has it (it carries the split summary), else the event's fields."""
        for line in reversed(self._stdout.decode("utf-8", "replace").splitlines()):
            if line.startswith("{"):
                try:
                    out = json.loads(line)
                except ValueError:
                    break
                if out.get("run_id") == self.run_id:
                    return out
                break
        return {"run_id": self.run_id, "model": self.spec.model, "status": e.status,
                "best_epoch": e.best_epoch, "epochs_run": e.epochs_run, "total_seconds": e.seconds,
                "valid": e.best_metrics, "test": e.test_metrics}

    def _end(self, summary: dict[str, Any]) -> None:
        if self._ended:
            return
        self._ended = True
        self.timer.stop()
        self.finished.emit(summary)
        self.done.emit()

    def _end_failed(self, message: str, details: str) -> None:
        if self._ended:
            return
        self._ended = True
        self.timer.stop()
        self.failed.emit(message, details)
        self.done.emit()

    def _environment(self) -> QProcessEnvironment:
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        if not env.contains("OMP_NUM_THREADS"):
            # torch threads per rank: share the cores, leaving one to the GUI
            env.insert("OMP_NUM_THREADS", str(max(1, ((os.cpu_count() or 2) - 1) // self.processes)))
        if not is_frozen():
            src = str(Path(__file__).resolve().parents[2])  # so a source checkout runs without installing
            old = env.value("PYTHONPATH", "")
            env.insert("PYTHONPATH", src + (os.pathsep + old if old else ""))
        return env


def _error_line(stderr: str) -> str:
    """The CLI's one-line ``error: ...`` if there is one, else the last line that is not blank."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("error: "):
            return ln[len("error: "):]
    return lines[-1] if lines else ""
