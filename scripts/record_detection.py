"""Record the matched-filter search and the band-power baseline on the held-out detection set.

python scripts/record_detection.py [--background 100000] [--per-snr 400]
python scripts/record_detection.py --injections-only   (the injections again, the background kept)

Writes data/results/detection/scores.npz and summary.json (lora_teach.experiments.references).
"""

from __future__ import annotations

import argparse

from lora_teach.experiments.references import record_searches, rescore_injections


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--background", type=int, default=100_000)
    parser.add_argument("--per-snr", type=int, default=400)
    parser.add_argument("--effectualness-injections", type=int, default=1000)
    parser.add_argument(
        "--injections-only",
        action="store_true",
        help="score the injections again with the recorded bank, keeping the recorded background",
    )
    args = parser.parse_args(argv)
    if args.injections_only:
        summary = rescore_injections(args.per_snr)
        print(f"injections rescored in {summary['seconds']['search_injections']} s")
        return 0
    summary = record_searches(args.background, args.per_snr, args.effectualness_injections)
    print(
        {k: v for k, v in summary.items() if k != "bank"} | {"bank size": summary["bank"]["size"]}
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
