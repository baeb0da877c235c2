"""Record the input's ceiling: known-signal oracles on whitened strain and on the log-mel power.

python scripts/record_input_ceiling.py   (about 15 minutes on 2 cores)

Writes data/results/detection/input_ceiling.json (lora_teach.experiments.input_ceiling).
"""

from __future__ import annotations

import json

from lora_teach.experiments.input_ceiling import record_input_ceiling


def main() -> int:
    record = record_input_ceiling()
    shown = {k: v for k, v in record.items() if k in ("coherent", "compressed", "resampled")}
    print(json.dumps(shown, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
