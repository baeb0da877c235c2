"""GW data speed: the training data, the held-out test split, features, and the matched filter.

python benchmarks/bench_gw_generate.py

Targets: 2000 training samples (H1 + L1, 2 s at 2048 Hz) in < 30 s; the test split (20 injections
at each of 13 SNRs and the first 5000-window background chunk) in minutes.
"""

import tempfile
import time
from pathlib import Path

import torch

from lora_teach.detection.band_power import band_power_score
from lora_teach.detection.matched_filter import search
from lora_teach.detection.template_bank import default_bank
from lora_teach.gw.config import GWConfig
from lora_teach.gw.simulation import generate_dataset
from lora_teach.gw.test_split import BACKGROUND_CHUNK, background_chunks, injections
from lora_teach.train.features import log_mel_batch


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


if __name__ == "__main__":
    torch.set_num_threads(2)
    config = GWConfig()
    ds, generated = timed(generate_dataset, config, 2000, seed=0, progress=False)
    _, featurised = timed(log_mel_batch, ds.strain)
    print(
        f"training data: 2000 samples {ds.strain.shape} generated in {generated:.1f} s "
        f"(target < 30 s); compressed log-mel features in {featurised:.1f} s"
    )
    with tempfile.TemporaryDirectory() as scratch:  # generated, not read from a cache
        inj, injected = timed(injections, config, per_snr=20, seed=99, root=Path(scratch))
    chunk, noise_s = timed(
        lambda: next(background_chunks(config, BACKGROUND_CHUNK, seed=99, cache=False))
    )
    print(
        f"test split: {len(inj)} injections in {injected:.1f} s, a {len(chunk)}-window background "
        f"chunk in {noise_s:.1f} s ({len(chunk) / noise_s:.0f} windows/s)"
    )
    bank, bank_s = timed(default_bank, config)
    _, mf_s = timed(search, chunk.strain[:1000], config, bank)
    _, bp_s = timed(band_power_score, chunk.strain[:1000])
    print(
        f"matched filter ({len(bank)} templates; bank ready in {bank_s:.1f} s): {1000 / mf_s:.0f} "
        f"windows/s, 100,000 windows in {1e5 / (1000 / mf_s) / 60:.0f} min; band power "
        f"{1000 / bp_s:.0f} windows/s ({mf_s / bp_s:.0f}x faster)"
    )
