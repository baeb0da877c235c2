"""Real pretrained Whisper: loading (online or offline), its encoder on short inputs, its layer names, speech.

Re-exports only; the package's own modules import from the defining module."""

from lora_teach.whisper.ctranslate2 import (
    DTYPES,
    SUPPORTED_VERSION,
    convert_ctranslate2,
    read_ctranslate2,
)
from lora_teach.whisper.encoder import encode
from lora_teach.whisper.load import OFFLINE_PACKAGES, cache_dir, load_whisper
from lora_teach.whisper.speech import (
    SpeechSet,
    load_speech_set,
    teacher_forced_loss,
    transcribe,
    with_encoder,
    word_error_rate,
)
from lora_teach.whisper.targets import WHISPER_TARGETS, whisper_targets

__all__ = [
    "OFFLINE_PACKAGES",
    "load_whisper",
    "cache_dir",
    "WHISPER_TARGETS",
    "whisper_targets",
    "encode",
    "SpeechSet",
    "load_speech_set",
    "transcribe",
    "word_error_rate",
    "teacher_forced_loss",
    "with_encoder",
    "read_ctranslate2",
    "convert_ctranslate2",
    "SUPPORTED_VERSION",
    "DTYPES",
]
