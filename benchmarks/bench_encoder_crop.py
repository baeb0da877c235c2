"""Whisper tiny.en encoder on short inputs: cropped to the signal vs padded to 30 s (issue: Whisper).

    python benchmarks/bench_encoder_crop.py

The reference and GW-Whisper pad every input to 30 s (3000 mel frames). ``lora_teach.whisper.encoder.encode``
runs the same weights on the frames the signal has. Prints throughput and the ratio, measured side by
side in one run (forward, and forward + backward as in training).
"""

from __future__ import annotations

import torch

from lora_teach.timing import interleaved_medians
from lora_teach.whisper.encoder import encode
from lora_teach.whisper.load import load_whisper

torch.set_num_threads(2)
torch.manual_seed(0)


def main(batch: int = 4):
    encoder = load_whisper("tiny.en", device="cpu").encoder
    print(
        f"whisper tiny.en encoder, batch {batch}, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(f"{'input':42s} {'cropped':>10s} {'padded 30s':>11s} {'speed-up':>9s}")
    for seconds, frames in ((1.0, 100), (2.0, 200), (2.0 / 8, 26)):
        short = torch.randn(batch, 80, frames)
        padded = torch.nn.functional.pad(short, (0, 3000 - frames))
        for mode in ("forward", "fwd+bwd"):

            def run(mel, mode=mode):
                if mode == "forward":
                    with torch.inference_mode():
                        encode(encoder, mel)
                else:
                    encoder.zero_grad(set_to_none=True)
                    encode(encoder, mel).mean().backward()

            t = interleaved_medians(
                {"crop": lambda s=short: run(s), "pad": lambda p=padded: run(p)},
                repeats=5,
                warmup=1,
            )
            label = f"{frames:4d} frames ({seconds:.2f} s audio), {mode}"
            print(
                f"{label:42s} {batch / t['crop']:8.1f}/s {batch / t['pad']:9.2f}/s {t['pad'] / t['crop']:8.1f}x"
            )


if __name__ == "__main__":
    main()
