"""Kept so ``from recsys_gui.gui.panels.compare_panel import ComparePanel`` still works: the page
lives in the package recsys_gui.gui.panels.compare."""

from recsys_gui.gui.panels.compare import ComparePanel, verdict

__all__ = ["ComparePanel", "verdict"]
