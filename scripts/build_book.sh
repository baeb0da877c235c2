#!/usr/bin/env bash
# Set up (scripts/setup.sh), then build the HTML book into _build/html with zero warnings.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
jupyter-book build . --warningiserror --nitpick --keep-going
echo "Book built: open $ROOT/_build/html/index.html (or: python -m http.server -d _build/html 8000)"
