"""Record what each strategy keeps of Whisper's speech recognition after learning GW detection.

python scripts/record_forgetting.py   (about 15 minutes on 2 cores)

Writes data/results/forgetting/tiny.en.json (lora_teach.experiments.forgetting).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lora_teach.experiments.forgetting import DEFAULT_PATH, record_forgetting


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH, help="the record to write")
    record_forgetting(parser.parse_args(argv).out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
