"""Record the scale regime: the trained strategies, the reference detectors, chapter 9's sweep.

python scripts/record_scale.py --strategy lora [--minutes 60] [--background 20000] [--per-snr 400]
python scripts/record_scale.py --strategy lora --rescore  (a recorded run's test logits again)
python scripts/record_scale.py --matched-filter   (the matched filter's and band power's records)
python scripts/record_scale.py --all-background   (every recorded strategy on all 100,000 windows)
python scripts/record_scale.py --sweep            (chapter 9's points and the SNR curriculum at scale)

What each records, and where: lora_teach.experiments.scale, .references, .all_background and
.scale_sweep. An error is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys

from lora_teach._paths import DETECTION
from lora_teach.experiments.all_background import score_all_background
from lora_teach.experiments.grid import StaleRecordError
from lora_teach.experiments.references import record_references
from lora_teach.experiments.scale import (
    RUNS,
    record_strategy,
    rescore,
    scale_config,
)
from lora_teach.experiments.scale_sweep import record_scale_sweep
from lora_teach.train.features import INPUTS
from lora_teach.train.profiles import SCHEDULES, STRATEGIES


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", choices=STRATEGIES)
    parser.add_argument("--matched-filter", action="store_true")
    parser.add_argument("--rescore", action="store_true", help="save a recorded run's test logits")
    parser.add_argument(
        "--all-background",
        action="store_true",
        help="score every recorded strategy on all the matched filter's background windows",
    )
    parser.add_argument(
        "--runs", default=None, help="with --all-background: records as folder/name, by commas"
    )
    parser.add_argument("--sweep", action="store_true", help="chapter 9's points at scale")
    parser.add_argument("--whisper", default="tiny.en")
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--representation", default="compressed", choices=INPUTS)
    parser.add_argument("--schedule", default="constant", choices=SCHEDULES)
    parser.add_argument(
        "--epochs", type=int, default=None, help="the budget, in epochs of 8000 samples"
    )
    parser.add_argument(
        "--scratch", action="store_true", help="random blocks, trained in full (a control)"
    )
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--background", type=int, default=20_000)
    parser.add_argument("--per-snr", type=int, default=400)
    args = parser.parse_args(argv)
    if not (args.matched_filter or args.sweep or args.all_background or args.strategy):
        parser.error("give --strategy, --matched-filter, --all-background or --sweep")
    return args


def run(args: argparse.Namespace) -> None:
    if args.matched_filter:
        for name, record in record_references(args.background).items():
            print(name, record["test"]["auc"], record["test"]["fap"]["0.001"]["rho50"])
    elif args.sweep:
        out = DETECTION / args.whisper / "sweep" / "points.json"
        runs = RUNS / args.whisper / "sweep"
        record_scale_sweep(out, runs, args.whisper, args.per_snr, args.background)
        print(f"{out}: every point recorded with today's config")
    elif args.all_background:
        runs = tuple(args.runs.split(",")) if args.runs else None
        score_all_background(args.whisper, runs)
    else:
        overrides = {"schedule": args.schedule, "pretrained": not args.scratch, "lr": args.lr}
        overrides |= {"epochs": args.epochs} if args.epochs is not None else {}
        config = scale_config(
            args.strategy, args.whisper, args.minutes, args.representation, **overrides
        )
        if args.rescore:
            print(rescore(config, args.per_snr, args.background))
            return
        path, record = record_strategy(config, args.per_snr, args.background)
        print(
            f"{args.strategy}: {record['samples_seen']} samples in "
            f"{record['train_seconds']:.0f} s, test AUC {record['test']['auc']:.4f}, rho50 at "
            f"FAP 1e-3 {record['test']['fap']['0.001']['rho50']} -> {path}"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        run(args)
    except (ValueError, FileNotFoundError, StaleRecordError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
