"""What every chapter does first: fixed threads and seeds, a plotly renderer the book can show."""

from __future__ import annotations

import hashlib
import os
import random
import sys

import numpy as np
import plotly.io as pio
import torch
from plotly.io._base_renderers import MimetypeRenderer

from lora_teach.train.profiles import PROFILES

__all__ = ["setup", "IN_COLAB", "profile", "set_profile", "BookRenderer"]

IN_COLAB = "google.colab" in sys.modules
_chosen: str | None = None  # set by set_profile in this kernel


def set_profile(name: str) -> str:
    """Choose this kernel's run profile (``cpu``, ``full`` or ``gpu``), ahead of everything else."""
    global _chosen
    _chosen = _check_profile(name, "set_profile's name")
    return _chosen


def profile() -> str:
    """The run profile: the one :func:`set_profile` chose, else ``$LORA_TEACH_PROFILE``, else
    ``gpu`` where CUDA is available and ``cpu`` where it is not.

    The book's outputs and nbval use ``cpu`` (scripts/test.sh sets the variable).
    """
    if _chosen is not None:
        return _chosen
    if os.environ.get("LORA_TEACH_PROFILE"):
        return _check_profile(os.environ["LORA_TEACH_PROFILE"], "LORA_TEACH_PROFILE")
    return "gpu" if torch.cuda.is_available() else "cpu"


def _check_profile(name: str, what: str) -> str:
    if name not in PROFILES:
        raise ValueError(f"{what} must be one of {list(PROFILES)}, got {name!r}")
    return name


class BookRenderer(MimetypeRenderer):
    """A figure as an HTML fragment that loads plotly.js from its CDN.

    myst-nb cannot show plotly's default (mimetype) output, so figures would silently vanish from
    the book; plotly's own notebook renderers add a second copy of MathJax, and two MathJax copies
    on one page break each other. This renderer does neither. Its div id comes from the figure
    itself (a hash of its JSON, numbered if the same figure is shown again), not from chance, so a
    re-executed notebook's output is identical and nbval compares it as it is.
    """

    def __init__(self):
        self.shown: dict[str, int] = {}

    def to_mimebundle(self, fig_dict):
        digest = hashlib.sha256(pio.to_json(fig_dict, validate=False).encode()).hexdigest()[:16]
        self.shown[digest] = self.shown.get(digest, 0) + 1
        height = fig_dict.get("layout", {}).get("height") or 450
        html = pio.to_html(
            fig_dict,
            include_plotlyjs="cdn",
            include_mathjax=False,
            auto_play=False,  # else a figure with frames plays through them all on load
            full_html=False,
            validate=False,
            default_width="100%",
            default_height=f"{height}px",
            div_id=f"fig-{digest}-{self.shown[digest]}",
        )
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
