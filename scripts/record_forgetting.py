"""What each strategy keeps of Whisper's speech recognition after learning gravitational waves.

python scripts/record_forgetting.py   (about 15 minutes on 2 cores)

Trains the cpu-profile GW detectors (tiny.en; full fine-tuning at three learning rates, LoRA at
two, the frozen encoder) and, after every epoch, puts the classifier's encoder back into Whisper
and measures the decoder's teacher-forced loss on the held-out speech set (data/speech); after the
last epoch also the word error rate, and for LoRA both with the adapter merged and switched off.
Writes data/results/forgetting/tiny.en.json.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from lora_teach import lora_disabled, merge_lora, unmerge_lora
from lora_teach.records import git_commit, versions, write_json_atomic
from lora_teach.train.config import TrainConfig
from lora_teach.train.data import prepare_data
from lora_teach.train.loop import train
from lora_teach.whisper.load import load_whisper
from lora_teach.whisper.speech import (
    load_speech_set,
    teacher_forced_loss,
    transcribe,
    word_error_rate,
)

OUT = Path(__file__).resolve().parents[1] / "data" / "results" / "forgetting" / "tiny.en.json"
RUNS = [
    ("full_finetune", 1e-5),
    ("full_finetune", 3e-5),
    ("full_finetune", 1e-4),
    ("lora", 1e-3),
    ("lora", 3e-3),
    ("frozen_encoder", 1e-3),
]


def main() -> None:
    torch.set_num_threads(2)
    speech = load_speech_set()
    whisper_model = load_whisper("tiny.en", device="cpu")
    pretrained = whisper_model.encoder

    def skill(encoder, wer: bool) -> dict:
        whisper_model.encoder = encoder.eval()
        out = {"loss": teacher_forced_loss(whisper_model, speech)}
        if wer:
            hypotheses = [transcribe(whisper_model, a) for a in speech.audio]
            out["wer"] = word_error_rate(speech.text, hypotheses)
            out["transcripts"] = hypotheses[:6]
        whisper_model.encoder = pretrained
        return out

    record = {
        "speech": {"utterances": len(speech)},
        "base": skill(pretrained, wer=True),
        "runs": [],
    }
    print("base", {k: v for k, v in record["base"].items() if k != "transcripts"}, flush=True)
    base_config = TrainConfig.from_profile("cpu")
    data = prepare_data(base_config, progress=False)
    for model_name, lr in RUNS:
        config = TrainConfig.from_profile("cpu", model=model_name, lr=lr, patience=None)
        start = time.perf_counter()
        final = {}

        def each_epoch(classifier, epoch, final=final):
            final["classifier"] = classifier
            return skill(classifier.encoder, wer=False)["loss"]

        results = train(config, data=data, progress=False, on_epoch=each_epoch)
        classifier = final["classifier"]
        run = {
            "model": model_name,
            "lr": lr,
            "val_auc": results["history"]["val_auc"],
            "speech_loss": results["history"]["on_epoch"],
            "best_val_auc": results["best_val_auc"],
            "final": skill(classifier.encoder, wer=True),
        }
        if model_name == "lora":
            with lora_disabled(classifier):
                run["adapter_off"] = skill(classifier.encoder, wer=True)
            merge_lora(classifier)
            run["merged"] = skill(classifier.encoder, wer=True)
            unmerge_lora(classifier)
        run["seconds"] = round(time.perf_counter() - start, 1)
        record["runs"].append(run)
        print(
            model_name,
            lr,
            f"val AUC {run['val_auc'][-1]:.3f}",
            f"speech loss {run['final']['loss']:.3f} WER {run['final']['wer']:.3f}",
            flush=True,
        )
    record |= {"versions": versions(), "git_commit": git_commit(), "threads": 2}
    write_json_atomic(record, OUT)


if __name__ == "__main__":
    main()
