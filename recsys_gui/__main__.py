"""`python -m recsys_gui` is the same command as `recsys-gui`."""

import sys

from recsys_gui.cli import main

if __name__ == "__main__":
    sys.exit(main())
