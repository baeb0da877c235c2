"""What every chapter does first: fixed threads and seeds, a plotly renderer the book can show."""
from __future__ import annotations

import os
import random
import sys

import numpy as np
import torch

__all__ = ["setup", "IN_COLAB", "profile"]

IN_COLAB = "google.colab" in sys.modules


def profile() -> str:
    """The run profile: ``$LORA_TEACH_PROFILE`` (``cpu`` unless set), as the book and nbval use."""
    value = os.environ.get("LORA_TEACH_PROFILE", "cpu")
    if value not in ("cpu", "full", "gpu"):
        raise ValueError(f"LORA_TEACH_PROFILE must be one of cpu, full, gpu; got {value!r}")
    return value


def setup(seed: int = 0, threads: int = 2) -> None:
    """Deterministic, book-friendly defaults for a chapter.

    - torch on ``threads`` CPU threads, and every RNG seeded;
    - plotly renders as ``notebook_connected`` HTML (myst-nb cannot show plotly's default
      mimetype renderer, so figures would silently vanish from the book); Colab's own renderer there.
    """
    torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    import plotly.io as pio

    pio.renderers.default = "colab" if IN_COLAB else "notebook_connected"
