#!/usr/bin/env bash
# Install the calibration renderer stack into a venv (default /work/venvs/calib).
# Usage: bash calibration/install.sh [VENV_DIR]
set -euo pipefail
VENV="${1:-/work/venvs/calib}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if ! ldconfig -p 2>/dev/null | grep -q libOSMesa; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq libosmesa6; else
    echo "need libosmesa6 (apt-get install libosmesa6)" >&2; exit 1; fi
fi
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q torch==2.13.0
"$VENV/bin/pip" install -q -r "$HERE/requirements.txt"
"$VENV/bin/pip" install -q "PyOpenGL==3.1.10" 2>&1 | grep -v "pyrender 0.1.45 requires PyOpenGL==3.1.0" || true
PYOPENGL_PLATFORM=osmesa "$VENV/bin/python" -c "import pyrender, anny, mediapipe; print('calibration stack OK')"
