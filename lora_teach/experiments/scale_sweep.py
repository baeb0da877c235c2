"""Chapter 9's conclusions re-checked in the scale regime (chapter 7): a handful of points at an
equal budget, each trained and scored on the held-out test split.

    python scripts/record_scale.py --sweep

The budget is 4 validations of 8000 samples (32,000 samples seen; the scale LoRA run's validation
AUC was within 0.006 of its best there). Also the SNR curriculum, against the same budget without
one, and the reference at two more seeds: the paired test's interval counts the test events'
noise only, the seeds show how much a retrained run moves. The record is
``data/results/detection/<whisper>/sweep/points.json``, the test logits ``scores.npz`` beside it;
points already recorded with today's config are kept.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from lora_teach.detection.report import detection_summary
from lora_teach.experiments.grid import StaleRecordError, raise_if_stale, stale_ids
from lora_teach.experiments.sweep import TARGET_SETS, point_id
from lora_teach.files import write_json_atomic, write_npz_atomic
from lora_teach.gw.config import GWConfig
from lora_teach.gw.test_split import background_chunks, injections
from lora_teach.provenance import versions
from lora_teach.train.checkpoint import load_trained
from lora_teach.train.config import TrainConfig
from lora_teach.train.data import prepare_data
from lora_teach.train.evaluation import classifier_features, logits
from lora_teach.train.loop import train

__all__ = [
    "SCALE_EPOCHS",
    "point_slug",
    "score_keys",
    "point_scores",
    "scale_sweep_configs",
    "scale_stale_points",
    "check_scale_fresh",
    "record_scale_sweep",
]

# A data-format id that committed records carry, not a module path: never change it.
FORMAT = "lora_teach.scale_sweep/1"
COMMAND = "python scripts/record_scale.py --sweep"
SCALE_EPOCHS = 4
SCALE_CURRICULUM = (11.0, 8.0)
SCALE_SEEDS = (1, 2)


def point_slug(point: str) -> str:
    """A file-name-safe form of a point id: ``lora_r8_alpha8_q-k-v-mlp_seed0``."""
    return point.replace(" ", "_").replace("=", "").replace(",", "-")


def score_keys(point: str) -> tuple[str, str]:
    """The keys of a point's (noise, signal) test logits in the sweep's ``scores.npz``."""
    slug = point_slug(point)
    return f"{slug}.noise", f"{slug}.signal"


def point_scores(scores, point: str) -> tuple:
    """A point's (noise, signal) test logits from the sweep's loaded ``scores.npz``."""
    return tuple(scores[key] for key in score_keys(point))


def scale_sweep_configs() -> dict[str, TrainConfig]:
    """The scale-regime points by :func:`point_id`; the first is the reference (r = 8, alpha = 8,
    q,k,v,mlp, seed 0) the others are compared with, the last are the reference at other seeds."""
    base = TrainConfig.from_profile("scale", strategy="lora", epochs=SCALE_EPOCHS)
    points = [
        dict(rank=8, alpha=8.0),
        dict(rank=8, alpha=1.0),  # alpha / r = 1/8
        dict(rank=8, alpha=64.0),  # alpha / r = 8
        dict(rank=1, alpha=1.0),
        dict(rank=64, alpha=64.0),
        # q,v at r = 32 trains as many parameters as q,k,v,mlp at r = 8 (32 x 1536 = 8 x 6144)
        dict(rank=32, alpha=32.0, targets=TARGET_SETS["q,v"]),
        dict(rank=8, alpha=8.0, snr_curriculum=SCALE_CURRICULUM),
        *(dict(rank=8, alpha=8.0, seed=seed) for seed in SCALE_SEEDS),
    ]
    configs = [dataclasses.replace(base, **p) for p in points]
    return {point_id(c): c for c in configs}


def scale_stale_points(record: dict) -> list[str]:
    """Ids of the scale points ``record`` lacks or holds with another config."""
    return stale_ids(record.get("points", {}), scale_sweep_configs())


def check_scale_fresh(record: dict) -> None:
    """Raise :class:`~lora_teach.experiments.grid.StaleRecordError` unless ``record``
    (``points.json``) holds every scale point with the config the code builds today."""
    stale = scale_stale_points(record)
    raise_if_stale(stale, len(scale_sweep_configs()), "scale sweep record", COMMAND)


def _entry(results: dict, test: dict) -> dict:
    keep = ("config", "parameters", "samples_seen", "best_epoch", "best_val_auc", "device")
    return {k: results[k] for k in keep} | {
        "train_seconds": round(results["train_seconds"], 1),
        "val_auc": results["history"]["val_auc"],
        "test": test,
        "git_commit": results["git_commit"],
    }


def record_scale_sweep(out: Path, runs: Path, whisper: str, per_snr: int, background: int) -> dict:
    """Train and score every point ``out`` (``points.json``) lacks on the test split (``per_snr``
    injections per SNR, the first ``background`` noise windows); save after each point.
    Checkpoints go to ``runs/<point slug>``."""
    configs = scale_sweep_configs()
    first = next(iter(configs.values()))
    if whisper != first.whisper:
        raise ValueError(f"the scale sweep's points train {first.whisper}, not {whisper}")
    scores_path = out.with_name("scores.npz")
    record = json.loads(out.read_text()) if out.exists() else {"format": FORMAT}
    points = record.setdefault("points", {})
    scores = dict(np.load(scores_path)) if scores_path.exists() else {}
    split = {"background_windows": background, "per_snr": per_snr}
    if points and record.get("test_split") != split:
        raise StaleRecordError(
            f"{out} was scored on the test split {record.get('test_split')}, not {split}: "
            "move it away to record a new sweep"
        )
    todo = {pid: configs[pid] for pid in scale_stale_points(record)}
    if not todo:
        return record
    data = prepare_data(first, progress=True)
    gw = GWConfig(snr_range=first.snr_range)
    signals = injections(gw, per_snr=per_snr, progress=True)
    # Every point scores the same test windows: their features are computed once (about 420 MB).
    chunks = background_chunks(gw, background, progress=True)
    noise_x = torch.cat([classifier_features(first, c) for c in chunks])
    signal_x = classifier_features(first, signals)
    for pid, config in todo.items():
        run_dir = runs / point_slug(pid)
        results = train(config, out=run_dir, data=data, progress=True)
        model = load_trained(run_dir)
        noise_s, signal_s = (
            logits(model, x, config.batch_size, config.device, config.autocast_precision)
            for x in (noise_x, signal_x)
        )
        points[pid] = _entry(results, detection_summary(noise_s, signal_s, signals.snr))
        noise_key, signal_key = score_keys(pid)
        scores[noise_key], scores[signal_key] = noise_s, signal_s
        write_npz_atomic(scores, scores_path, np.float32)
        record["points"] = {p: points[p] for p in configs if p in points}
        record |= {"whisper": whisper, "test_split": split, "versions": versions()}
        write_json_atomic(record, out)
        print(
            f"{pid}: val AUC {results['best_val_auc']:.4f}, test AUC "
            f"{points[pid]['test']['auc']:.4f}, rho50 at 1e-3 "
            f"{points[pid]['test']['fap']['0.001']['rho50']}",
            flush=True,
        )
    return record
