"""The installed Qt binding keeps Python's reference counts: a binding that drops references aborts
the interpreter ("deallocating None") at some later, unrelated moment, usually at exit."""

from __future__ import annotations

import gc
import sys

from PySide6.QtCore import QCoreApplication, QEventLoop


def _none_refs_lost_over(calls: int, step) -> int:
    gc.collect()
    before = sys.getrefcount(None)
    for _ in range(calls):
        step()
    gc.collect()
    return before - sys.getrefcount(None)


def test_process_events_keeps_the_reference_count_of_none(qapp) -> None:
    # PySide6 6.12.0 lost one reference per call (excluded in pyproject.toml); pytest-qt's waits
    # and the app's own loops call it thousands of times in a session.
    calls = 300  # few enough that a leaking binding fails here rather than aborting
    lost = _none_refs_lost_over(calls, qapp.processEvents)
    lost_with_flags = _none_refs_lost_over(
        calls, lambda: QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
    )
    assert lost < calls // 10, f"processEvents() lost {lost} references to None in {calls} calls"
    assert lost_with_flags < calls // 10, f"processEvents(flags, ms) lost {lost_with_flags}"
