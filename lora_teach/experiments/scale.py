"""One strategy trained in the ``scale`` profile and recorded on the held-out test split, with
what it keeps of speech.

    python scripts/record_scale.py --strategy lora [--minutes 60] [--background 20000]

The run trains on a pool of 20,000 signals + 20,000 noise windows (``TrainConfig``'s ``scale``
profile), validating every 8000 samples; after each validation it also measures rho50 at FAP
1e-2 on the validation set (the learning curve). The best checkpoint (by validation AUC) then
scores the test split, and its encoder is put back into Whisper to measure the speech it keeps
(teacher-forced loss and WER; for LoRA also with the adapter off). Throughput of generation,
log-mel features and training is measured on this machine, in samples/s. The record is
``data/results/detection/<whisper or cnn>/<run name>.json``, its test logits ``-scores.npz``
beside it, and a strain run's learned filters ``-stem.safetensors``. The same command records the
phase-preserving input and its controls (``--representation strain``, ``--scratch``,
``--strategy cnn``, ``--schedule cosine``); runs without Whisper's pretrained encoder skip the
speech measurement.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from lora_teach._paths import DETECTION, REPO
from lora_teach.detection.metrics import sensitive_snr
from lora_teach.detection.report import detection_summary
from lora_teach.files import write_json_atomic, write_npz_atomic
from lora_teach.gw.config import GWConfig
from lora_teach.gw.simulation import generate_dataset
from lora_teach.gw.test_split import background_chunks, injections
from lora_teach.inject import lora_disabled
from lora_teach.provenance import provenance
from lora_teach.train.checkpoint import load_trained
from lora_teach.train.config import TrainConfig
from lora_teach.train.data import TrainingData, prepare_data
from lora_teach.train.evaluation import classifier_test_scores, logits
from lora_teach.train.features import classifier_inputs
from lora_teach.train.loop import train
from lora_teach.whisper.speech import load_speech_set, speech_skill, with_encoder

__all__ = [
    "RUNS",
    "run_name",
    "record_folder",
    "scale_config",
    "record_strategy",
    "rescore",
    "save_scores",
]

RUNS = REPO / "runs" / "scale"
CURVE_FAP = 1e-2  # the validation set's ~1000 noise windows support FAP 1e-2, not 1e-3


def run_name(config: TrainConfig) -> str:
    """The strategy, then what differs from the first records' defaults: ``lora``,
    ``lora-resampled``, ``lora-strain-cosine``, ``full_finetune-strain-scratch-cosine``."""
    parts = [config.strategy]
    parts += [config.representation] if config.representation != "compressed" else []
    parts += ["scratch"] if not config.pretrained else []
    parts += [config.schedule] if config.schedule != "constant" else []
    return "-".join(parts)


def record_folder(config: TrainConfig) -> str:
    """Where a run's record lies under ``data/results/detection``: the Whisper model, or ``cnn``."""
    return "cnn" if config.strategy == "cnn" else config.whisper


def scale_config(strategy: str, whisper: str, minutes: float, representation: str, **overrides):
    """The ``scale`` profile's config for one recorded strategy (``overrides``: other fields)."""
    return TrainConfig.from_profile(
        "scale",
        strategy=strategy,
        whisper=whisper,
        max_minutes=minutes,
        representation=representation,
        **overrides,
    )


def save_scores(path: Path, noise: np.ndarray, signal: np.ndarray) -> None:
    """The test split's logits beside the record, for paired comparisons between detectors."""
    write_npz_atomic({"noise": noise, "signal": signal}, path, np.float32)


def throughput(config: TrainConfig, n: int = 512) -> dict:
    """Samples/s for generating fresh events and for their classifier inputs, on this machine."""
    gw = GWConfig(snr_range=config.snr_range)
    start = time.perf_counter()
    ds = generate_dataset(gw, n, seed=10_000, split="train", progress=False)
    generate = n / (time.perf_counter() - start)
    start = time.perf_counter()
    classifier_inputs(
        ds.strain,
        sample_rate=gw.sample_rate,
        representation=config.representation,
        pad_to_30s=config.pad_to_30s,
    )
    features = n / (time.perf_counter() - start)
    return {
        "generate_samples_per_s": round(generate, 1),
        "features_samples_per_s": round(features, 1),
    }


def speech_kept(classifier, whisper_name: str) -> dict:
    """The loss and WER of Whisper ``whisper_name`` around the classifier's encoder."""
    speech = load_speech_set()
    model = with_encoder(classifier.encoder, whisper_name)
    return speech_skill(model, speech) | {"utterances": len(speech)}


def _learning_curve_point(config: TrainConfig, data: TrainingData):
    """``on_epoch`` for :func:`train`: rho50 at ``CURVE_FAP`` on the validation set."""
    signal = data.y_val.numpy() == 1
    snr = data.snr_val.numpy()

    def point(model, epoch):
        s = logits(model, data.x_val, config.batch_size)
        try:
            rho = sensitive_snr(s[~signal], s[signal], snr[signal], CURVE_FAP, n_boot=20)
        except (ValueError, RuntimeError):  # no signal found, or a fit on a near-random model
            return {"rho50": None}
        return {"rho50": rho[0.5][0], "rho50_low": rho[0.5][1], "rho50_high": rho[0.5][2]}

    return point


def _record(results: dict, speeds: dict, test: dict, score_rate: float) -> dict:
    history = results["history"]
    keep = ("config", "parameters", "samples_seen", "epochs_run", "best_epoch", "best_val_auc")
    return (
        {
            "strategy": results["config"]["strategy"],
            "whisper": None
            if results["config"]["strategy"] == "cnn"
            else results["config"]["whisper"],
            "profile": "scale",
        }
        | {k: results[k] for k in keep}
        | {
            "train_seconds": round(results["train_seconds"], 1),
            "learning_curve": {
                "samples_seen": history["samples_seen"],
                "val_auc": history["val_auc"],
                "val_loss": history["val_loss"],
                "train_loss": history["train_loss"],
                "epoch_seconds": [round(t, 2) for t in history["epoch_seconds"]],
                f"val_rho50_fap{CURVE_FAP:g}": [p["rho50"] for p in history["on_epoch"]],
            },
            "throughput": speeds
            | {
                "train_samples_per_s": round(results["samples_seen"] / results["train_seconds"], 1),
                "test_scoring_samples_per_s": round(score_rate, 1),
            },
            "test": test,
        }
    )


def record_strategy(config: TrainConfig, per_snr: int, background: int) -> tuple[Path, dict]:
    """Train ``config`` (checkpoint in ``runs/scale``), score the test split, measure the speech
    it keeps; write the record and its test logits; return the record's path and the record."""
    torch.set_num_threads(2)
    speeds = throughput(config)
    data = prepare_data(config, progress=True)
    name = run_name(config)
    run_dir = RUNS / record_folder(config) / name
    on_epoch = _learning_curve_point(config, data)
    results = train(config, out=run_dir, data=data, progress=True, on_epoch=on_epoch)
    model = load_trained(run_dir)
    gw = GWConfig(snr_range=config.snr_range)
    signals = injections(gw, per_snr=per_snr, progress=True)
    start = time.perf_counter()
    chunks = background_chunks(gw, background, progress=True)
    noise_s, signal_s = classifier_test_scores(model, config, signals, chunks)
    rate = (len(noise_s) + len(signal_s)) / (time.perf_counter() - start)
    test = detection_summary(noise_s, signal_s, signals.snr)
    record = _record(results, speeds, test, rate)
    if config.strategy != "cnn" and config.pretrained:  # what is left of Whisper's speech
        record["speech"] = speech_kept(model, config.whisper)
    if config.strategy == "lora":
        with lora_disabled(model):
            record["speech_adapter_off"] = speech_kept(model, config.whisper)
    record |= provenance("cpu", 2)
    path = DETECTION / record_folder(config) / f"{name}.json"
    if getattr(model, "stem", None) is not None:  # the learned filters, for the book
        stem = {k: v.contiguous() for k, v in model.stem.state_dict().items()}
        save_file(stem, path.with_name(f"{name}-stem.safetensors"))
    save_scores(path.with_name(f"{name}-scores.npz"), noise_s, signal_s)
    write_json_atomic(record, path)
    return path, record


def rescore(config: TrainConfig, per_snr: int, background: int) -> Path:
    """Score a recorded run's saved checkpoint again and save its test logits (no training);
    the AUC must be the recorded one. Returns the scores' path."""
    torch.set_num_threads(2)
    name = run_name(config)
    record = json.loads((DETECTION / record_folder(config) / f"{name}.json").read_text())
    config = TrainConfig.from_record(record["config"])
    model = load_trained(RUNS / record_folder(config) / name)
    gw = GWConfig(snr_range=config.snr_range)
    signals = injections(gw, per_snr=per_snr)
    path = DETECTION / record_folder(config) / f"{name}-scores.npz"
    if path.exists() and len(np.load(path)["noise"]) > background:
        raise ValueError(
            f"{path} holds more than {background:,} background scores "
            "(from --all-background): rescoring would cut them"
        )
    chunks = background_chunks(gw, background)
    noise_s, signal_s = classifier_test_scores(model, config, signals, chunks)
    again = detection_summary(noise_s, signal_s, signals.snr, n_boot=1)["auc"]
    if again != record["test"]["auc"]:
        raise ValueError(f"rescored AUC {again} differs from the recorded {record['test']['auc']}")
    save_scores(path, noise_s, signal_s)
    return path
