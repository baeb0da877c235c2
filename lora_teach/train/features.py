"""From whitened 2048 Hz strain to what a classifier reads: Whisper's 80-bin log-mel image, or
the strain itself (``"strain"``, for a phase-preserving stem: :mod:`lora_teach.whisper.strain_stem`).

Two ways to meet Whisper's mel range (its mel bins are spaced for speech, at 16 kHz):

- ``"compressed"``: hand the 2048 Hz samples to Whisper as if they were 16 kHz audio. Time runs
  7.8x faster, so 20-500 Hz lands at 156-3900 Hz, where most mel bins are, and 2 s of strain
  becomes 26 frames (13 encoder tokens).
- ``"resampled"``: resample to 16 kHz, keeping physical frequencies. 20-500 Hz then falls in the
  lowest ~13 of the 80 bins and 2 s becomes 200 frames.

``log_mel_spectrogram`` clamps its log10 values at (the maximum of the tensor it is given) - 8,
then maps x -> (x + 4) / 4: the floor depends on the whole input, so each sample and detector is
transformed on its own. The strain is scaled by one fixed constant (not per sample) first.
"""

from __future__ import annotations

import numpy as np
import torch
import whisper
from scipy.signal import resample_poly

__all__ = [
    "REPRESENTATIONS",
    "INPUTS",
    "AUDIO_SCALE",
    "log_mel",
    "log_mel_batch",
    "classifier_inputs",
    "n_frames",
]

REPRESENTATIONS = ("compressed", "resampled")  # the two log-mel mappings
INPUTS = (*REPRESENTATIONS, "strain")  # what a classifier can read
AUDIO_SCALE = 0.1  # whitened strain has unit variance; audio near std 0.1 sits well inside [-1, 1]
HOP = whisper.audio.HOP_LENGTH  # 160 samples = 10 ms at 16 kHz
WHISPER_RATE = whisper.audio.SAMPLE_RATE


def _audio(
    strain: np.ndarray, sample_rate: int, representation: str, pad_to_30s: bool = False
) -> np.ndarray:
    if representation == "compressed":
        audio = strain
    elif representation == "resampled":
        g = np.gcd(WHISPER_RATE, sample_rate)
        audio = resample_poly(strain, WHISPER_RATE // g, sample_rate // g, axis=-1)
    else:
        raise ValueError(f"representation must be one of {REPRESENTATIONS}, got {representation!r}")
    if pad_to_30s:  # what Whisper's own pipeline (pad_or_trim) and the reference do: zeros to 30 s
        if audio.shape[-1] > whisper.audio.N_SAMPLES:
            raise ValueError(f"{audio.shape[-1]} audio samples do not fit in Whisper's 30 s window")
        pad = whisper.audio.N_SAMPLES - audio.shape[-1]
        return np.pad(audio, [(0, 0)] * (audio.ndim - 1) + [(0, pad)]) * AUDIO_SCALE
    # Whisper's STFT drops its last frame: pad to a whole number of hops plus one, and to an even
    # frame count (the encoder's stride-2 convolution halves it).
    frames = -(-audio.shape[-1] // HOP)
    frames += frames % 2
    pad = frames * HOP - audio.shape[-1]
    return np.pad(audio, [(0, 0)] * (audio.ndim - 1) + [(0, pad)]) * AUDIO_SCALE


def n_frames(n_samples: int, sample_rate: int, representation: str) -> int:
    """Mel frames ``log_mel`` gives for ``n_samples`` of strain."""
    return _audio(np.zeros(n_samples), sample_rate, representation).shape[-1] // HOP


def log_mel(
    strain: np.ndarray,
    sample_rate: int = 2048,
    representation: str = "compressed",
    pad_to_30s: bool = False,
) -> torch.Tensor:
    """(80, frames) log-mel of one detector's whitened strain (a 1-D array).

    ``pad_to_30s`` pads with zeros to Whisper's 30 s window (3000 frames), as Whisper's own
    pipeline does; by default the input is cropped to the signal's length.
    """
    if strain.ndim != 1:
        raise ValueError(f"log_mel takes one detector's strain (1-D), got shape {strain.shape}")
    audio = _audio(strain.astype(np.float64), sample_rate, representation, pad_to_30s)
    return whisper.log_mel_spectrogram(torch.from_numpy(audio.astype(np.float32)))


def log_mel_batch(strain: np.ndarray, **options) -> torch.Tensor:
    """(n, detectors, 80, frames) from (n, detectors, samples), each sample and detector on its own.

    ``options`` are :func:`log_mel`'s (``sample_rate``, ``representation``, ``pad_to_30s``).
    """
    n, d, _ = strain.shape
    mels = [log_mel(strain[i, j], **options) for i in range(n) for j in range(d)]
    return torch.stack(mels).reshape(n, d, *mels[0].shape)


def classifier_inputs(strain: np.ndarray, representation: str = "compressed", **options):
    """What a classifier reads from (n, detectors, samples) whitened strain.

    ``"strain"``: the strain itself as float32 (unit variance already: whitened); a log-mel
    ``representation``: :func:`log_mel_batch` with ``options`` (``sample_rate``, ``pad_to_30s``).
    """
    if representation == "strain":
        if options.get("pad_to_30s"):
            raise ValueError("pad_to_30s applies to log-mel inputs, not to representation='strain'")
        return torch.from_numpy(np.ascontiguousarray(strain, dtype=np.float32))
    if representation not in REPRESENTATIONS:
        raise ValueError(f"representation must be one of {INPUTS}, got {representation!r}")
    return log_mel_batch(strain, representation=representation, **options)
