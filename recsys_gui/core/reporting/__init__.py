"""Reports people can keep and share: one self-contained HTML file per run or comparison of runs.

``write_report(workspace, runs, out)`` is the entry point (CLI ``recsys-gui report``, the
window's File → Save report); ``svg`` holds the small chart writer it uses.
"""

from recsys_gui.core.reporting.report import ReportInfo, build_report, write_report

__all__ = ["ReportInfo", "build_report", "write_report"]
