"""GW data generation speed (issue: GW data): 2000 samples, H1 + L1, 2 s at 2048 Hz; target < 30 s.

python benchmarks/bench_gw_generate.py
"""

import time

from lora_teach.features import log_mel_batch
from lora_teach.gw import GWConfig, generate_dataset

if __name__ == "__main__":
    start = time.perf_counter()
    ds = generate_dataset(GWConfig(), 2000, seed=0, progress=False)
    generated = time.perf_counter() - start
    start = time.perf_counter()
    log_mel_batch(ds.strain)
    featurised = time.perf_counter() - start
    print(
        f"2000 samples ({ds.strain.shape}) generated in {generated:.1f} s (target < 30 s); "
        f"compressed log-mel features in {featurised:.1f} s"
    )
