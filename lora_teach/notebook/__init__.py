"""What the chapters need around the package: the session (seeds, threads, profile), live widgets,
diagrams.

Re-exports only; the package's own modules import from the defining module."""

from lora_teach.notebook.diagrams import (
    lora_layer_diagram,
    pipeline_diagram,
    pipeline_shapes,
    whisper_block_diagram,
)
from lora_teach.notebook.live import live_controls, show_in
from lora_teach.notebook.session import IN_COLAB, BookRenderer, profile, set_profile, setup

__all__ = [
    "setup",
    "IN_COLAB",
    "profile",
    "set_profile",
    "BookRenderer",
    "show_in",
    "live_controls",
    "lora_layer_diagram",
    "whisper_block_diagram",
    "pipeline_shapes",
    "pipeline_diagram",
]
