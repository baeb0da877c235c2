"""Real pretrained Whisper: loading (online or offline), its encoder on short inputs, a
phase-preserving stem that feeds it whitened strain, its layer names, speech, and the same model
in Hugging Face transformers.

Re-exports only; the package's own modules import from the defining module."""

from lora_teach.whisper import (
    ctranslate2,
    encoder,
    load,
    speech,
    strain_stem,
    targets,
    transformers_model,
)
from lora_teach.whisper.ctranslate2 import *  # noqa: F403
from lora_teach.whisper.encoder import *  # noqa: F403
from lora_teach.whisper.load import *  # noqa: F403
from lora_teach.whisper.speech import *  # noqa: F403
from lora_teach.whisper.strain_stem import *  # noqa: F403
from lora_teach.whisper.targets import *  # noqa: F403
from lora_teach.whisper.transformers_model import *  # noqa: F403

__all__ = [
    *ctranslate2.__all__,
    *encoder.__all__,
    *load.__all__,
    *speech.__all__,
    *strain_stem.__all__,
    *targets.__all__,
    *transformers_model.__all__,
]
