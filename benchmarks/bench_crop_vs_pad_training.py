"""One LoRA training epoch with inputs cropped to the signal vs padded to 30 s (issue: fine-tuning).

    python benchmarks/bench_crop_vs_pad_training.py [--n 200]

The reference (and GW-Whisper) padded every input to Whisper's 30 s window; this book crops the
encoder to the 2 s signal (26 mel frames, "compressed" representation). Same data, same seed, same
model, one epoch each: prints the epoch time, the speed-up, and the validation AUC of both, and
writes data/results/crop_vs_pad.json.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from lora_teach.files import write_json_atomic
from lora_teach.provenance import provenance
from lora_teach.train.config import TrainConfig
from lora_teach.train.loop import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--n", type=int, default=200, help="training and validation events each (default 200)"
    )
    parser.add_argument(
        "--out",
        default=str(Path(__file__).resolve().parents[1] / "data" / "results" / "crop_vs_pad.json"),
    )
    args = parser.parse_args()
    base = TrainConfig(strategy="lora", n_train=args.n, n_val=args.n, epochs=1)
    runs = {}
    for name, pad in (("cropped", False), ("padded_30s", True)):
        r = train(dataclasses.replace(base, pad_to_30s=pad), progress=False)
        runs[name] = {
            "epoch_seconds": r["history"]["epoch_seconds"][0],
            "val_auc": r["best_val_auc"],
            "frames": 3000 if pad else 26,
        }
        print(
            f"{name:11s}: {runs[name]['frames']:4d} frames, epoch {runs[name]['epoch_seconds']:7.1f} s, val AUC {runs[name]['val_auc']:.3f}",
            flush=True,
        )
    speedup = runs["padded_30s"]["epoch_seconds"] / runs["cropped"]["epoch_seconds"]
    print(f"speed-up of cropping: {speedup:.1f}x")
    record = {
        "config": dataclasses.asdict(base),
        "runs": runs,
        "speedup": speedup,
    } | provenance(base.device, base.threads)
    write_json_atomic(record, Path(args.out))


if __name__ == "__main__":
    main()
