#!/usr/bin/env bash
# Build the one-folder app into dist/recsys-gui (CPU torch). Usage: packaging/build.sh [VENV]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}
"$venv/bin/python" -m pip install -q "pyinstaller>=6.0"
start=$(date +%s)
"$venv/bin/pyinstaller" --noconfirm --clean --distpath dist --workpath build/pyinstaller packaging/pyinstaller/recsys-gui.spec
echo "built dist/recsys-gui in $(( $(date +%s) - start ))s, size $(du -sh dist/recsys-gui | cut -f1)"
