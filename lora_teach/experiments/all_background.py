"""Every recorded strategy's checkpoint on all the matched filter's background windows.

    python scripts/record_scale.py --all-background [--runs tiny.en/lora-strain-cosine,...]

A strategy's record (``lora_teach.experiments.scale``) scores the test split's first windows;
this extends it to the matched filter's 100,000, so the record gains ``test_all_background``
(FAP 1e-3 and 1e-4, as the matched filter's has).
"""

from __future__ import annotations

import json
import time

import numpy as np
import torch

from lora_teach._paths import DETECTION
from lora_teach.detection.band_power import band_power_score
from lora_teach.detection.report import detection_summary
from lora_teach.experiments.scale import RUNS, save_scores
from lora_teach.files import write_json_atomic
from lora_teach.gw.config import GWConfig
from lora_teach.gw.test_split import background_chunks
from lora_teach.provenance import provenance
from lora_teach.train.checkpoint import load_trained
from lora_teach.train.config import TrainConfig
from lora_teach.train.evaluation import classifier_scores

__all__ = ["ALL_BACKGROUND_STRATEGIES", "score_all_background"]

ALL_BACKGROUND_STRATEGIES = ("lora", "full_finetune", "frozen_encoder")


def score_all_background(whisper: str = "tiny.en", runs: tuple[str, ...] | None = None) -> None:
    """Every recorded strategy's checkpoint on all the matched filter's background windows.

    ``runs``: records as ``folder/name`` under ``data/results/detection`` (default: the three
    strategies of ``whisper``); each run's checkpoint lies in ``runs/scale/folder/name``.

    The record's test split covers the first windows. The checkpoint re-scores the first chunk (it
    must reproduce the saved scores) and scores every window the -scores.npz does not hold yet, so
    a second run scores nothing new and only recomputes the summaries. Each chunk's band power must
    equal the matched-filter record's, so the windows are the same ones. Writes
    ``test_all_background`` (with its provenance) into each record and every background logit into
    its -scores.npz.
    """
    torch.set_num_threads(2)
    reference = np.load(DETECTION / "scores.npz")
    n = len(reference["band_power_noise"])
    runs = runs or tuple(f"{whisper}/{name}" for name in ALL_BACKGROUND_STRATEGIES)
    paths = {name: DETECTION / f"{name}.json" for name in runs}
    missing = [str(path) for path in paths.values() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"no record {missing}: give runs as folder/name, e.g. cnn/cnn")
    records = {name: json.loads(path.read_text()) for name, path in paths.items()}
    configs = {name: TrainConfig.from_record(r["config"]) for name, r in records.items()}
    models = {name: load_trained(RUNS / name) for name in records}
    saved = {  # read once: each key of an open npz file is decompressed again on every access
        name: dict(np.load(path.with_name(f"{path.stem}-scores.npz")))
        for name, path in paths.items()
    }
    split = {r["test"]["background_windows"] for r in records.values()}
    ranges = {tuple(c.snr_range) for c in configs.values()}
    if len(split) != 1 or len(ranges) != 1:
        raise ValueError(f"the recorded runs differ in test split {split} or SNR range {ranges}")
    split = split.pop()
    for name, record in records.items():  # the injections are the matched filter's, in its order
        again = detection_summary(
            saved[name]["noise"][:split],
            saved[name]["signal"],
            reference["snr"],
            faps=(1e-3,),
            n_boot=1,
        )
        if again["fap"]["0.001"]["efficiency"] != record["test"]["fap"]["0.001"]["efficiency"]:
            raise ValueError(f"{name}: its injections differ from the matched filter's")
    have = min(len(s["noise"]) for s in saved.values())
    noise = {name: [saved[name]["noise"][:have]] for name in records}
    start = time.perf_counter()
    done = 0
    for chunk in background_chunks(GWConfig(snr_range=ranges.pop()), n):
        window = slice(done, done + len(chunk))
        if not np.allclose(band_power_score(chunk.strain), reference["band_power_noise"][window]):
            raise ValueError(f"background windows {window} differ from the matched filter's")
        if done == 0:  # the checkpoint must reproduce the saved scores
            for name, model in models.items():
                again = classifier_scores(model, configs[name], chunk)
                if not np.allclose(again, saved[name]["noise"][window], atol=1e-4):
                    raise ValueError(f"{name}: the checkpoint does not reproduce its test scores")
        elif done >= have:
            for name, model in models.items():
                noise[name].append(classifier_scores(model, configs[name], chunk))
        elif done + len(chunk) > have:
            raise ValueError(f"saved scores end inside chunk {window}: score from {done} again")
        done += len(chunk)
        print(f"{done:,} of {n:,} windows, {time.perf_counter() - start:.0f} s", flush=True)
    scored_by = provenance("cpu", 2)
    for name, record in records.items():
        every = np.concatenate(noise[name])
        if len(every) != n:
            raise ValueError(f"{name}: {len(every)} background scores, expected {n}")
        signal = saved[name]["signal"]
        summary = detection_summary(every, signal, reference["snr"], faps=(1e-3, 1e-4))
        record["test_all_background"] = summary | {"scored_by": scored_by}
        save_scores(paths[name].with_name(f"{paths[name].stem}-scores.npz"), every, signal)
        write_json_atomic(record, paths[name])
        print(name, record["test_all_background"]["fap"]["0.0001"]["rho50"])
