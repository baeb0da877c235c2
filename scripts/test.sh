#!/usr/bin/env bash
# Set up everything, then run every test: lint and format checks, unit tests, strict nbval over
# chapters/ (the plain command a reader types), the simulated Colab launch, the book build with
# zero warnings, and the browser tests on the built book.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
source "$ROOT/scripts/setup_browser.sh"
bash "$ROOT/scripts/setup_pycbc.sh"  # PyCBC, the matched filter's peer, in its own environment
cd "$ROOT"
export LORA_TEACH_PROFILE=cpu  # the profile the committed outputs came from
export LORA_TEACH_REQUIRE_PYCBC=1  # the PyCBC cross-check must run, not skip
ruff check .
ruff format --check .
python -m pytest tests --ignore=tests/browser
python -m pytest --nbval chapters
python tests/support/colab_sim.py  # "launch in Colab", simulated offline: setup cell + first cells
jupyter-book build . --warningiserror --nitpick --keep-going
LORA_TEACH_BROWSER=1 python -m pytest tests/browser
