"""What every chapter does first: fixed threads and seeds, a plotly renderer the book can show."""
from __future__ import annotations

import os
import random
import sys

import numpy as np
import plotly.io as pio
import torch
from plotly.io._base_renderers import MimetypeRenderer

__all__ = ["setup", "IN_COLAB", "profile", "BookRenderer"]

IN_COLAB = "google.colab" in sys.modules


def profile() -> str:
    """The run profile: ``$LORA_TEACH_PROFILE`` (``cpu`` unless set), as the book and nbval use."""
    value = os.environ.get("LORA_TEACH_PROFILE", "cpu")
    if value not in ("cpu", "full", "gpu"):
        raise ValueError(f"LORA_TEACH_PROFILE must be one of cpu, full, gpu; got {value!r}")
    return value


class BookRenderer(MimetypeRenderer):
    """A figure as an HTML fragment that loads plotly.js from its CDN.

    myst-nb cannot show plotly's default (mimetype) output, so figures would silently vanish from
    the book; plotly's own notebook renderers add a second copy of MathJax, and two MathJax copies
    on one page break each other. This renderer does neither.
    """

    def to_mimebundle(self, fig_dict):
        height = fig_dict.get("layout", {}).get("height") or 450
        html = pio.to_html(
            fig_dict, include_plotlyjs="cdn", include_mathjax=False, full_html=False, validate=False,
            default_width="100%", default_height=f"{height}px",
        )  # fmt: skip
        return {"text/html": html}


def setup(seed: int = 0, threads: int = 2) -> None:
    """Deterministic, book-friendly defaults for a chapter: torch on ``threads`` CPU threads, every
    RNG seeded, plotly through :class:`BookRenderer` (Colab's own renderer on Colab)."""
    torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    pio.renderers["book"] = BookRenderer()
    pio.renderers.default = "colab" if IN_COLAB else "book"
