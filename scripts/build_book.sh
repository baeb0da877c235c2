#!/usr/bin/env bash
# Build the HTML book into _build/html with zero warnings. The build shows the notebooks'
# committed outputs, so it needs only requirements-book.txt (no torch): seconds to install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/venv.sh"
python -m pip install -q -r "$ROOT/requirements-book.txt"
cd "$ROOT"
jupyter-book build . --warningiserror --nitpick --keep-going
echo "Book built: open $ROOT/_build/html/index.html (or: python -m http.server -d _build/html 8000)"
