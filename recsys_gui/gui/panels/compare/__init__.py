"""The Compare page (``ComparePanel``): the run table in panel.py, one module per tab."""

from recsys_gui.gui.panels.compare.panel import ComparePanel
from recsys_gui.gui.panels.compare.verdict import verdict

__all__ = ["ComparePanel", "verdict"]
