#!/usr/bin/env bash
# Create .venv at the repository root (if missing), activate it and bring pip up to date.
# Sourced by setup.sh (everything) and build_book.sh (only what the book build needs).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -x "$ROOT/.venv/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$ROOT/.venv"
fi
# shellcheck disable=SC1091
source "$ROOT/.venv/bin/activate"
python -m pip install -q --upgrade pip
