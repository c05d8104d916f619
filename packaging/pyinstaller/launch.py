"""Entry point of the bundled app: the same `recsys-gui` command (no arguments opens the window)."""

import sys

from recsys_gui.cli import main

if __name__ == "__main__":
    sys.exit(main())
