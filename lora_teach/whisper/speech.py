"""What Whisper still hears: held-out English speech, word error rate, teacher-forced loss.

Two measures of how much of its speech skill a Whisper model keeps:

- **word error rate** (WER) of greedy decoding against the reference transcripts, both passed
  through Whisper's own English text normaliser (case, punctuation, spelling variants), computed
  with jiwer: (substitutions + deletions + insertions) / reference words;
- **teacher-forced cross-entropy**: the decoder's mean loss per reference token when fed the
  reference transcript, continuous and sensitive to changes too small to flip a word.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import whisper
from whisper.normalizers import EnglishTextNormalizer

from lora_teach._paths import DATA
from lora_teach.whisper.load import load_whisper

__all__ = [
    "SpeechSet",
    "load_speech_set",
    "transcribe",
    "word_error_rate",
    "teacher_forced_loss",
    "with_encoder",
    "speech_skill",
]

DEFAULT_PATH = DATA / "speech" / "speech_set.npz"


@dataclass(frozen=True)
class SpeechSet:
    """Utterances (float32 at 16 kHz, in [-1, 1]) with their reference transcripts."""

    audio: list[np.ndarray]
    text: list[str]
    voice: list[str]

    def __len__(self) -> int:
        return len(self.text)


def load_speech_set(path: str | Path = DEFAULT_PATH) -> SpeechSet:
    """The committed speech set (``data/speech``; see its README for provenance)."""
    if not Path(path).is_file():
        raise FileNotFoundError(
            f"no speech set at {path}: regenerate it with `python scripts/make_speech_set.py` "
            "(needs Debian's espeak-ng)"
        )
    with np.load(path, allow_pickle=False) as f:
        if int(f["sample_rate"]) != 16000:
            raise ValueError(f"{path}: expected 16 kHz audio, got {int(f['sample_rate'])} Hz")
        audio, offsets = f["audio"].astype(np.float32) / 32768.0, f["offsets"]
        clips = [audio[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
        return SpeechSet(clips, [str(t) for t in f["text"]], [str(v) for v in f["voice"]])


def transcribe(model, audio: np.ndarray) -> str:
    """Greedy (temperature 0) English transcription of one utterance, in float32."""
    options = dict(fp16=False, language="en", temperature=0.0, condition_on_previous_text=False)
    return model.transcribe(audio, **options)["text"].strip()


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """WER over a corpus after Whisper's English normaliser (the figure Whisper's paper reports)."""
    if len(references) != len(hypotheses) or not references:
        raise ValueError(
            f"need one hypothesis per reference, got {len(references)} references and "
            f"{len(hypotheses)} hypotheses"
        )
    import jiwer  # an optional dependency (the book's extra): only WER needs it

    normalise = EnglishTextNormalizer()
    return float(jiwer.wer([normalise(r) for r in references], [normalise(h) for h in hypotheses]))


@torch.no_grad()
def teacher_forced_loss(model, speech: SpeechSet, batch_size: int = 8) -> float:
    """Mean cross-entropy (nats per token) of the reference transcripts under ``model``'s decoder,
    given each utterance's audio; the transcript's end-of-text token counts, the prompt does not."""
    tokenizer = whisper.tokenizer.get_tokenizer(model.is_multilingual)
    prompt = list(tokenizer.sot_sequence_including_notimestamps)
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for start in range(0, len(speech), batch_size):
        clips = speech.audio[start : start + batch_size]
        mels = torch.stack(
            [
                whisper.log_mel_spectrogram(whisper.pad_or_trim(a), n_mels=model.dims.n_mels)
                for a in clips
            ]
        ).to(device)
        features = model.encoder(mels)
        for i, text in enumerate(speech.text[start : start + batch_size]):
            tokens = prompt + tokenizer.encode(" " + text.strip()) + [tokenizer.eot]
            inputs = torch.tensor([tokens[:-1]], device=device)
            logits = model.decoder(inputs, features[i : i + 1])[0, len(prompt) - 1 :]
            targets = torch.tensor(tokens[len(prompt) :], device=device)
            total += torch.nn.functional.cross_entropy(
                logits.float(), targets, reduction="sum"
            ).item()
            count += len(targets)
    return total / count


def with_encoder(encoder: torch.nn.Module, whisper_name: str):
    """A whole Whisper model (``whisper_name``'s pretrained decoder) around ``encoder``, which may
    have been adapted to another task: what that encoder still offers speech recognition."""
    model = load_whisper(whisper_name, device="cpu")
    if encoder.conv1.weight.shape != model.encoder.conv1.weight.shape or len(encoder.blocks) != len(
        model.encoder.blocks
    ):
        raise ValueError(f"the encoder does not have {whisper_name}'s shape")
    model.encoder = encoder.eval()
    return model.eval()


def speech_skill(model, speech: SpeechSet, wer: bool = True, transcripts: int = 0) -> dict:
    """What Whisper ``model`` keeps of speech on ``speech``: the teacher-forced ``loss``; with
    ``wer``, also the word error rate of greedy decoding and its first ``transcripts``
    hypotheses (if any)."""
    skill = {"loss": teacher_forced_loss(model, speech)}
    if wer:
        hypotheses = [transcribe(model, a) for a in speech.audio]
        skill["wer"] = word_error_rate(speech.text, hypotheses)
        if transcripts:
            skill["transcripts"] = hypotheses[:transcripts]
    return skill
