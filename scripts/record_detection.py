"""Record the matched-filter search and the band-power baseline on the held-out detection set.

python scripts/record_detection.py [--background 100000] [--per-snr 400]

Writes data/results/detection/scores.npz and summary.json (lora_teach.experiments.references).
"""

from __future__ import annotations

import argparse

from lora_teach.experiments.references import record_searches


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--background", type=int, default=100_000)
    parser.add_argument("--per-snr", type=int, default=400)
    parser.add_argument("--effectualness-injections", type=int, default=1000)
    args = parser.parse_args(argv)
    summary = record_searches(args.background, args.per_snr, args.effectualness_injections)
    print(
        {k: v for k, v in summary.items() if k != "bank"} | {"bank size": summary["bank"]["size"]}
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
