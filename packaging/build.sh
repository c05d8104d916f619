#!/usr/bin/env bash
# Build the one-folder app into DIST/recsys-studio (CPU torch).
# Usage: packaging/build.sh [VENV] [DIST]   (defaults: .venv and dist)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}
distpath=${2:-dist}
if ! "$venv/bin/python" -c "import PyInstaller" 2>/dev/null; then
  "$venv/bin/python" -m pip install -q "pyinstaller>=6.0"
fi
work=${PYINSTALLER_WORKPATH:-build/pyinstaller}
start=$(date +%s)
"$venv/bin/python" -m PyInstaller --noconfirm --clean --log-level WARN --distpath "$distpath" --workpath "$work" \
  packaging/pyinstaller/recsys-gui.spec
echo "built $distpath/recsys-studio in $(( $(date +%s) - start ))s, size $(du -sh "$distpath/recsys-studio" | cut -f1)"
