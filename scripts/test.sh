#!/usr/bin/env bash
# Set up everything, then run every test: unit tests, strict nbval over chapters/, the book build
# with zero warnings, and the browser tests on the built book.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
source "$ROOT/scripts/setup_browser.sh"
cd "$ROOT"
export OMP_NUM_THREADS=2 LORA_TEACH_PROFILE=cpu
python -m pytest tests --ignore=tests/browser
python -m pytest --nbval chapters --nbval-current-env --nbval-sanitize-with chapters/nbval_sanitize.cfg
jupyter-book build . --warningiserror --nitpick --keep-going
LORA_TEACH_BROWSER=1 python -m pytest tests/browser
