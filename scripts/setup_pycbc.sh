#!/usr/bin/env bash
# Create .venv-pycbc (if missing) with PyCBC, the peer the matched filter is checked against.
# Its pins (numpy<2.4, scipy<1.17) conflict with the book's, hence a separate environment.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -x "$ROOT/.venv-pycbc/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$ROOT/.venv-pycbc"
fi
"$ROOT/.venv-pycbc/bin/python" -m pip install -q --upgrade pip
"$ROOT/.venv-pycbc/bin/python" -m pip install -q -r "$ROOT/requirements-pycbc.txt"
