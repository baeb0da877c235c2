"""Record the input's ceiling: known-signal oracles on whitened strain and on the log-mel power.

python scripts/record_input_ceiling.py   (about 6 minutes on 2 cores)

Writes data/results/detection/input_ceiling.json (lora_teach.experiments.input_ceiling).
"""

from __future__ import annotations

import argparse
import json

from lora_teach.experiments.input_ceiling import SETUP, record_input_ceiling


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--injections", type=int, default=SETUP["injections"], help="injections from the prior"
    )
    args = parser.parse_args(argv)
    record = record_input_ceiling(SETUP | {"injections": args.injections})
    shown = {k: v for k, v in record.items() if k in ("coherent", "compressed", "resampled")}
    print(json.dumps(shown, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
