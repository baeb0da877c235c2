#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run every test: unit tests and strict nbval over chapters/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
export OMP_NUM_THREADS=2 LORA_TEACH_PROFILE=cpu
python -m pytest tests
python -m pytest --nbval chapters --nbval-current-env --nbval-sanitize-with chapters/nbval_sanitize.cfg -p no:randomly
