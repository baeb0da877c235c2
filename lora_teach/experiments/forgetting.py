"""What each strategy keeps of Whisper's speech recognition after learning gravitational waves.

    python scripts/record_forgetting.py   (about 15 minutes on 2 cores)

Trains the cpu-profile GW detectors (tiny.en; full fine-tuning at three learning rates, LoRA at
two, the frozen encoder) and, after every epoch, puts the classifier's encoder back into Whisper
and measures the decoder's teacher-forced loss on the held-out speech set (data/speech); after
the last epoch also the word error rate, and for LoRA both with the adapter merged and switched
off. The record is ``data/results/forgetting/tiny.en.json``.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from lora_teach._paths import RESULTS
from lora_teach.files import write_json_atomic
from lora_teach.inject import lora_disabled, merge_lora, unmerge_lora
from lora_teach.provenance import git_commit, versions
from lora_teach.train.config import TrainConfig
from lora_teach.train.data import prepare_data
from lora_teach.train.loop import train
from lora_teach.whisper.load import load_whisper
from lora_teach.whisper.speech import load_speech_set, speech_skill

__all__ = ["RUNS", "DEFAULT_PATH", "record_forgetting"]

DEFAULT_PATH = RESULTS / "forgetting" / "tiny.en.json"
# (strategy, learning rate)
RUNS = [
    ("full_finetune", 1e-5),
    ("full_finetune", 3e-5),
    ("full_finetune", 1e-4),
    ("lora", 1e-3),
    ("lora", 3e-3),
    ("frozen_encoder", 1e-3),
]


class _SpeechProbe:
    """Whisper tiny.en whose encoder can be swapped for a classifier's, to measure speech."""

    def __init__(self):
        self.speech = load_speech_set()
        self.model = load_whisper("tiny.en", device="cpu")
        self.pretrained = self.model.encoder

    def skill(self, encoder, wer: bool) -> dict:
        self.model.encoder = encoder.eval()
        try:
            return speech_skill(self.model, self.speech, wer=wer, transcripts=6 if wer else 0)
        finally:
            self.model.encoder = self.pretrained


def _run(strategy: str, lr: float, data, probe: _SpeechProbe) -> dict:
    config = TrainConfig.from_profile("cpu", strategy=strategy, lr=lr, patience=None)
    start = time.perf_counter()
    final = {}

    def each_epoch(classifier, epoch):
        final["classifier"] = classifier
        return probe.skill(classifier.encoder, wer=False)["loss"]

    results = train(config, data=data, progress=False, on_epoch=each_epoch)
    classifier = final["classifier"]
    run = {
        "strategy": strategy,
        "lr": lr,
        "val_auc": results["history"]["val_auc"],
        "speech_loss": results["history"]["on_epoch"],
        "best_val_auc": results["best_val_auc"],
        "final": probe.skill(classifier.encoder, wer=True),
    }
    if strategy == "lora":
        with lora_disabled(classifier):
            run["adapter_off"] = probe.skill(classifier.encoder, wer=True)
        merge_lora(classifier)
        run["merged"] = probe.skill(classifier.encoder, wer=True)
        unmerge_lora(classifier)
    run["seconds"] = round(time.perf_counter() - start, 1)
    return run


def record_forgetting(out: Path = DEFAULT_PATH) -> dict:
    """Train every run of :data:`RUNS`, measuring speech after each epoch; write ``out``."""
    torch.set_num_threads(2)
    probe = _SpeechProbe()
    record = {
        "speech": {"utterances": len(probe.speech)},
        "base": probe.skill(probe.pretrained, wer=True),
        "runs": [],
    }
    data = prepare_data(TrainConfig.from_profile("cpu"), progress=False)
    for strategy, lr in RUNS:
        run = _run(strategy, lr, data, probe)
        record["runs"].append(run)
        print(
            f"{strategy} lr {lr:g}: val AUC {run['val_auc'][-1]:.3f}, speech loss "
            f"{run['final']['loss']:.3f} WER {run['final']['wer']:.3f}",
            flush=True,
        )
    record |= {"versions": versions(), "git_commit": git_commit(), "threads": 2}
    write_json_atomic(record, out)
    return record
