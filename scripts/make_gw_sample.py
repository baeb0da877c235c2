"""Regenerate data/gw_sample.npz, the small committed GW data set chapters render from.

    python scripts/make_gw_sample.py

tests/gw/test_gw.py checks that the committed file is exactly what this code generates.
"""

from pathlib import Path

from lora_teach.gw.cache import save_dataset
from lora_teach.gw.config import GWConfig
from lora_teach.gw.simulation import generate_dataset

if __name__ == "__main__":
    path = save_dataset(
        generate_dataset(GWConfig(), 32, seed=0, split="sample"),
        Path(__file__).parents[1] / "data" / "gw_sample.npz",
    )
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
