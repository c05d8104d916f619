"""The core and the CLI run headless: importing them never loads Qt."""

import subprocess
import sys


def test_core_and_cli_import_no_qt():
    code = (
        "import sys, importlib, pkgutil\n"
        "import recsys_gui.core, recsys_gui.cli\n"
        "for m in pkgutil.walk_packages(recsys_gui.core.__path__, 'recsys_gui.core.'):\n"
        "    importlib.import_module(m.name)\n"
        "recsys_gui.cli.build_parser()\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6')"
        " or m.startswith('recsys_gui.gui')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_package_import_is_light():
    code = "import sys, recsys_gui; assert 'torch' not in sys.modules and 'PySide6' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
