"""Regenerate data/speech/speech_set.npz: English sentences synthesised offline with espeak-ng.

python scripts/make_speech_set.py     (needs Debian's espeak-ng: apt-get install espeak-ng)

The sentences are this project's own (data/speech/README.md: provenance and licence). Each is
spoken by one of several espeak-ng voices at one of several rates, resampled from espeak-ng's
22.05 kHz to Whisper's 16 kHz, and stored as int16 with its reference transcript.
"""

from __future__ import annotations

import io
import itertools
import subprocess
import wave
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

OUT = Path(__file__).resolve().parents[1] / "data" / "speech" / "speech_set.npz"
SENTENCES = [
    "The river rose slowly after three days of rain.",
    "Please close the window before the storm arrives.",
    "She bought fresh bread and a jar of honey.",
    "The old clock in the hall stopped at noon.",
    "We walked along the beach until the sun went down.",
    "His brother fixed the bicycle in ten minutes.",
    "A small boat drifted past the quiet harbour.",
    "The children painted a map of the village.",
    "Turn left at the church and follow the road.",
    "The library opens at nine on Saturday morning.",
    "My grandmother grows tomatoes in the garden.",
    "The train to the city was late again today.",
    "He wrote the letter by hand and sealed it.",
    "Bright stars filled the sky above the mountains.",
    "The soup needs more salt and a little pepper.",
    "They moved the piano into the front room.",
    "A cold wind blew across the empty field.",
    "The doctor asked him to rest for a week.",
    "Our team won the match in the final minute.",
    "The kettle whistled while we set the table.",
    "She found her keys under the kitchen chair.",
    "The bridge was closed for repairs last month.",
    "Birds gathered on the wire before flying south.",
    "He forgot his umbrella on the crowded bus.",
    "The museum shows paintings from many countries.",
    "We planted an apple tree near the fence.",
    "The candle burned low as the story ended.",
    "Fresh snow covered the path to the cabin.",
    "The farmer counted his sheep at sunset.",
    "A loud knock woke everyone in the house.",
    "The teacher smiled and handed back the tests.",
    "Green hills stretched as far as we could see.",
    "The market sells fish, fruit and warm cheese.",
    "She played a gentle song on the violin.",
    "The lights went out during the evening news.",
    "We shared a pot of tea on the porch.",
]
VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-029", "en-us+f3", "en-gb-x-rp+f2"]
RATES = [150, 175]  # words per minute


def speak(text: str, voice: str, rate: int) -> np.ndarray:
    """int16 samples at 16 kHz of ``text`` spoken by espeak-ng."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(rate), "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    with wave.open(io.BytesIO(wav)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2, "espeak-ng writes 16-bit mono"
        rate_in = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
    assert rate_in == 22050, f"espeak-ng wrote {rate_in} Hz, expected 22050"
    audio = resample_poly(samples, 320, 441)  # 22050 Hz * 320 / 441 = 16000 Hz
    return np.clip(np.round(audio), -32768, 32767).astype(np.int16)


def main() -> None:
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout
    plan = list(zip(SENTENCES, itertools.cycle(VOICES), itertools.cycle(RATES[::1] + RATES[::-1])))
    clips = [speak(text, voice, rate) for text, voice, rate in plan]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        OUT,
        audio=np.concatenate(clips),
        offsets=np.cumsum([0] + [len(c) for c in clips]),
        text=np.array([t for t, _, _ in plan]),
        voice=np.array([v for _, v, _ in plan]),
        rate=np.array([r for _, _, r in plan]),
        sample_rate=np.array(16000),
        espeak_ng=np.array(version.strip()),
    )
    seconds = sum(map(len, clips)) / 16000
    print(f"{len(clips)} utterances, {seconds:.0f} s of speech, {OUT.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
