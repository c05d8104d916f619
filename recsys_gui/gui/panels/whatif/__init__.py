"""The What-if page (``WhatIfPanel``): a basket of items and the chosen runs' top-N for it, with reasons.

panel.py lays the page out and owns the requests; the widgets (search, basket, result columns, run
checklist) only show what they are handed; loaded_runs.py is the Qt-free work the workers do.
"""

from recsys_gui.gui.panels.whatif.panel import WhatIfPanel

__all__ = ["WhatIfPanel"]
