"""The held-out speech set and the two measures of what Whisper still hears of speech."""

import numpy as np
import pytest
import torch

from lora_teach.whisper.load import load_whisper
from lora_teach.whisper.speech import (
    load_speech_set,
    teacher_forced_loss,
    transcribe,
    word_error_rate,
)


@pytest.fixture(scope="module")
def speech():
    return load_speech_set()


def test_the_committed_set_is_what_its_readme_says(speech):
    assert len(speech) == 36 and len(set(speech.voice)) == 6
    seconds = np.array([len(a) for a in speech.audio]) / 16000
    assert np.all((seconds > 1.0) & (seconds < 10.0))
    assert all(np.abs(a).max() <= 1.0 and np.abs(a).max() > 0.1 for a in speech.audio)


def test_word_error_rate_counts_edits_after_normalising():
    assert word_error_rate(["The cat sat."], ["the cat sat"]) == 0.0
    assert word_error_rate(["the cat sat on the mat"], ["the dog sat on mat"]) == pytest.approx(
        2 / 6
    )
    with pytest.raises(ValueError, match="2 references and 1 hypotheses"):
        word_error_rate(["a", "b"], ["a"])


@pytest.mark.slow
def test_tiny_en_hears_the_set_and_a_damaged_encoder_hears_less(speech):
    model = load_whisper("tiny.en", device="cpu")
    part = type(speech)(speech.audio[:8], speech.text[:8], speech.voice[:8])
    hypotheses = [transcribe(model, a) for a in part.audio]
    # espeak-ng's robotic voices are hard for the smallest Whisper: about 0.2-0.3 WER, not 0.5+
    assert word_error_rate(part.text, hypotheses) < 0.35, hypotheses
    loss = teacher_forced_loss(model, part)
    assert 0.0 < loss < 1.0
    with torch.no_grad():  # damage the encoder: the decoder's loss on the same speech must rise
        for p in model.encoder.blocks[-1].parameters():
            p.add_(torch.randn_like(p) * p.std())
    assert teacher_forced_loss(model, part) > loss + 0.1


def test_a_missing_speech_set_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="make_speech_set.py"):
        load_speech_set(tmp_path / "nowhere.npz")
