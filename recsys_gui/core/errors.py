"""User-facing errors. Every message is written for an analyst, not a developer.

The CLI turns these into a one-line message and exit code 2; the GUI shows them inline.
"""

from __future__ import annotations


class RecsysError(Exception):
    """Base class of every error we raise on purpose; its message is shown as is."""

    exit_code = 2


class DataError(RecsysError):
    """An input file cannot be used. Names the file, and the row and column when known."""

    def __init__(self, message: str, *, path: object = None, row: int | None = None,
                 column: str | None = None) -> None:
        where = []
        if path is not None:
            where.append(str(path))
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        self.path, self.row, self.column = path, row, column
        self.detail = message
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class DataChangedError(RecsysError):
    """A stored run's data file no longer holds what the run was trained on."""


class ConfigError(RecsysError):
    """A setting is out of range or unknown."""


class DeviceError(RecsysError):
    """The requested device is not available."""


class MemoryLimitError(RecsysError):
    """A step would need more memory than the machine (or the GPU) has free; says the ways out.

    Raised before anything is allocated, so the app stays alive instead of being killed.
    """

    def __init__(self, message: str, *, need: int | None = None, available: int | None = None,
                 device: str = "cpu") -> None:
        self.need, self.available, self.device = need, available, device
        super().__init__(message)


class RunNotFound(RecsysError):
    """No run with that id in the workspace."""


class ExportError(RecsysError):
    """An export cannot be written (target exists, bad path, unknown format)."""


class TrainingCancelled(RecsysError):
    """The user stopped the run."""

    exit_code = 3


class TrainingDiverged(RecsysError):
    """The loss became NaN or infinite."""
