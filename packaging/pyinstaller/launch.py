"""Entry point of the bundled app: the same `recsys-gui` command (no arguments opens the window).

A desktop launcher passes a file it was asked to open as the only argument (``Exec=recsys-studio %f``);
that becomes ``--data FILE``. The window relaunches this executable with the ``train`` subcommand to
train each run in a child process (``recsys_gui.gui.external_run.train_command``).
"""

import multiprocessing
import os
import sys

from recsys_gui.cli import main


def _argv(args: list[str]) -> list[str]:
    if len(args) == 1 and not args[0].startswith("-") and os.path.isfile(args[0]):
        return ["--data", args[0]]
    return args


if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen app re-enters here if a library starts worker processes
    sys.exit(main(_argv(sys.argv[1:])))
