"""Record the matched-filter search and the band-power baseline on the held-out detection set.

python scripts/record_detection.py [--background 100000] [--per-snr 400]

Writes data/results/detection/scores.npz (every score: the injections' and the background's) and
data/results/detection/summary.json (the bank, its effectualness, timings, provenance). The
chapters read these; the background's first chunk is also what they recompute and compare.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from lora_teach.detection.band_power import band_power_score
from lora_teach.detection.matched_filter import ARRIVAL_MARGIN_S, COINCIDENCE_MARGIN_S, search
from lora_teach.detection.template_bank import default_bank, effectualness, template_key
from lora_teach.gw.config import GWConfig
from lora_teach.gw.signals import draw_params
from lora_teach.gw.test_split import background_chunks, injections
from lora_teach.records import atomic_write, git_commit, versions, write_json_atomic

OUT = Path(__file__).resolve().parents[1] / "data" / "results" / "detection"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--background", type=int, default=100_000)
    parser.add_argument("--per-snr", type=int, default=400)
    parser.add_argument("--effectualness-injections", type=int, default=1000)
    args = parser.parse_args()
    torch.set_num_threads(2)
    config = GWConfig()

    start = time.perf_counter()
    bank = default_bank(config, progress=True)
    bank_seconds = time.perf_counter() - start
    prior = draw_params(config, args.effectualness_injections, np.random.default_rng(2026))
    start = time.perf_counter()
    best = effectualness(bank, prior)
    effectualness_seconds = time.perf_counter() - start

    inj = injections(config, per_snr=args.per_snr, progress=True)
    start = time.perf_counter()
    mf_signal = search(inj.strain, config, bank)
    injections_s = time.perf_counter() - start
    bp_signal = band_power_score(inj.strain)

    mf_noise, bp_noise = [], []
    generate_s = search_s = 0.0
    chunks = background_chunks(config, args.background, cache=False)
    while True:
        start = time.perf_counter()
        chunk = next(chunks, None)
        generate_s += time.perf_counter() - start
        if chunk is None:
            break
        start = time.perf_counter()
        mf_noise.append(search(chunk.strain, config, bank))
        search_s += time.perf_counter() - start
        bp_noise.append(band_power_score(chunk.strain))
        print(f"background: {sum(map(len, mf_noise))} windows, search {search_s:.0f} s", flush=True)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(
                f,
                snr=inj.snr,
                matched_filter_signal=mf_signal.astype(np.float32),
                band_power_signal=bp_signal.astype(np.float32),
                matched_filter_noise=np.concatenate(mf_noise).astype(np.float32),
                band_power_noise=np.concatenate(bp_noise).astype(np.float32),
            )

    atomic_write(OUT / "scores.npz", write)
    summary = {
        "config": config.key(),
        "search": {
            "step_samples": 2,
            "coincidence_margin_s": COINCIDENCE_MARGIN_S,
            "arrival_margin_s": ARRIVAL_MARGIN_S,
        },
        "bank": {
            "template_fields": template_key(config),
            "params": {k: v.round(6).tolist() for k, v in bank.params.items()},
            "rule": "stochastic placement over the injections' prior",
            "size": len(bank),
            "minimal_match": bank.minimal_match,
            "n_proposals": bank.n_proposals,
            "seed": bank.seed,
            "build_seconds_if_not_cached": round(bank_seconds, 1),
        },
        "effectualness": {
            "injections": len(best),
            "median": float(np.median(best)),
            "p5": float(np.percentile(best, 5)),
            "p10": float(np.percentile(best, 10)),
            "min": float(best.min()),
            "seconds": round(effectualness_seconds, 1),
        },
        "injections": {
            "per_snr": args.per_snr,
            "snrs": sorted(set(inj.snr.round(3).tolist())),
            "seed": 0,
            "effectualness_prior_seed": 2026,
        },
        "background_seed": 0,
        "background_windows": int(sum(map(len, mf_noise))),
        "seconds": {
            "generate_background": round(generate_s, 1),
            "search_background": round(search_s, 1),
            "search_injections": round(injections_s, 1),
        },
        "threads": torch.get_num_threads(),
        "versions": versions(),
        "git_commit": git_commit(),
    }
    write_json_atomic(summary, OUT / "summary.json")
    print({k: v for k, v in summary.items() if k != "bank"} | {"bank size": len(bank)})


if __name__ == "__main__":
    main()
