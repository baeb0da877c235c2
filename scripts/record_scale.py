"""Train one strategy in the ``scale`` profile and record it on the test split, with what it keeps of speech.

python scripts/record_scale.py --strategy lora [--minutes 60] [--background 20000] [--per-snr 400]
python scripts/record_scale.py --matched-filter   (the matched filter's and band power's records)
python scripts/record_scale.py --all-background   (every recorded strategy on all 100,000 windows)
python scripts/record_scale.py --sweep            (chapter 8's points and the SNR curriculum at scale)

A strategy's run trains on a pool of 20,000 signals + 20,000 noise windows (``TrainConfig``'s
``scale`` profile), validating every 8000 samples; after each validation it also measures
rho50 at FAP 1e-2 on the validation set (the learning curve). The best checkpoint (by validation
AUC) then scores the held-out test split, and its encoder is put back into Whisper to measure the
speech it keeps (teacher-forced loss and WER; for LoRA also with the adapter off). Throughput of
generation, log-mel features and training is measured on this machine, in samples/s.

Writes data/results/detection/<whisper>/<strategy>[-<representation>].json and its test logits
(-scores.npz); with --matched-filter, matched_filter.json and band_power.json
(computed from scores.npz on the same background windows). With --all-background, each recorded
strategy's saved checkpoint also scores the rest of the matched filter's background windows, so its
record gains ``test_all_background`` (FAP 1e-3 and 1e-4, as the matched filter's has). With
--sweep, each point of ``lora_teach.experiments.sweep.scale_sweep_configs`` (equal budget, 32,000 samples)
trains and scores the test split: data/results/detection/<whisper>/sweep/points.json and
scores.npz; points already recorded with today's config are kept.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from lora_teach import lora_disabled
from lora_teach.detection.metrics import sensitive_snr, threshold_at_fap
from lora_teach.detection.report import detection_summary
from lora_teach.gw.config import GWConfig
from lora_teach.gw.simulation import generate_dataset
from lora_teach.gw.test_split import background_chunks, injections
from lora_teach.records import atomic_write, device_name, git_commit, versions, write_json_atomic
from lora_teach.train.config import TrainConfig
from lora_teach.train.evaluation import classifier_test_scores
from lora_teach.train.features import log_mel_batch
from lora_teach.whisper.speech import (
    load_speech_set,
    teacher_forced_loss,
    transcribe,
    word_error_rate,
)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "data" / "results" / "detection"
CURVE_FAP = 1e-2  # the validation set's ~1000 noise windows support FAP 1e-2, not 1e-3


def throughput(config: TrainConfig, n: int = 512) -> dict:
    """Samples/s for generating fresh events and for their log-mel features, on this machine."""
    gw = GWConfig(snr_range=config.snr_range)
    start = time.perf_counter()
    ds = generate_dataset(gw, n, seed=10_000, split="train", progress=False)
    generate = n / (time.perf_counter() - start)
    start = time.perf_counter()
    log_mel_batch(
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
    from lora_teach.whisper.speech import with_encoder

    speech = load_speech_set()
    model = with_encoder(classifier.encoder, whisper_name)
    hypotheses = [transcribe(model, a) for a in speech.audio]
    return {
        "loss": teacher_forced_loss(model, speech),
        "wer": word_error_rate(speech.text, hypotheses),
        "utterances": len(speech),
    }


def save_scores(path: Path, noise: np.ndarray, signal: np.ndarray) -> None:
    """The test split's logits beside the record, for paired comparisons between detectors."""

    save_score_arrays(
        path, {"noise": noise.astype(np.float32), "signal": signal.astype(np.float32)}
    )


def save_score_arrays(path: Path, arrays: dict) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    atomic_write(path, write)


def rescore(args) -> None:
    """Score a recorded run's saved checkpoint again and save its test logits (no training)."""
    from lora_teach.train.checkpoint import load_trained

    torch.set_num_threads(2)
    name = args.strategy + (
        "" if args.representation == "compressed" else f"-{args.representation}"
    )
    record = json.loads((OUT / args.whisper / f"{name}.json").read_text())
    config = TrainConfig.from_record(record["config"])
    model = load_trained(ROOT / "runs" / "scale" / args.whisper / name)
    gw = GWConfig(snr_range=config.snr_range)
    signals = injections(gw, per_snr=args.per_snr)
    scores_path = OUT / args.whisper / f"{name}-scores.npz"
    if scores_path.exists() and len(np.load(scores_path)["noise"]) > args.background:
        raise SystemExit(
            f"{scores_path} holds more than {args.background:,} background scores "
            "(from --all-background): rescoring would cut them"
        )
    noise_s, signal_s = classifier_test_scores(
        model, config, signals, background_chunks(gw, args.background)
    )
    again = detection_summary(noise_s, signal_s, signals.snr, n_boot=1)["auc"]
    if again != record["test"]["auc"]:
        raise SystemExit(f"rescored AUC {again} differs from the recorded {record['test']['auc']}")
    save_scores(scores_path, noise_s, signal_s)


def record_strategy(args) -> None:
    from lora_teach.train.checkpoint import load_trained
    from lora_teach.train.data import prepare_data
    from lora_teach.train.loop import train

    torch.set_num_threads(2)
    config = TrainConfig.from_profile(
        "scale",
        model=args.strategy,
        whisper=args.whisper,
        max_minutes=args.minutes,
        representation=args.representation,
    )
    speeds = throughput(config)
    data = prepare_data(config, progress=True)
    x_val, y_val, snr_val = data[2], data[3].numpy(), data[4].numpy()
    signal_val = y_val == 1

    def curve_point(model, epoch):
        from lora_teach.train.evaluation import logits

        s = logits(model, x_val, config.batch_size)
        try:
            rho = sensitive_snr(
                s[~signal_val], s[signal_val], snr_val[signal_val], CURVE_FAP, n_boot=20
            )
            return {"rho50": rho[0.5][0], "rho50_low": rho[0.5][1], "rho50_high": rho[0.5][2]}
        except ValueError:
            return {"rho50": None}

    name = config.model + (
        "" if config.representation == "compressed" else f"-{config.representation}"
    )
    run_dir = ROOT / "runs" / "scale" / config.whisper / name
    results = train(config, out=run_dir, data=data, progress=True, on_epoch=curve_point)
    model = load_trained(run_dir)

    gw = GWConfig(snr_range=config.snr_range)
    signals = injections(gw, per_snr=args.per_snr, progress=True)
    start = time.perf_counter()
    noise_s, signal_s = classifier_test_scores(
        model, config, signals, background_chunks(gw, args.background, progress=True)
    )
    score_seconds = time.perf_counter() - start
    history = results["history"]
    record = {
        "strategy": config.model,
        "whisper": config.whisper,
        "profile": "scale",
        "config": results["config"],
        "parameters": results["parameters"],
        "samples_seen": results["samples_seen"],
        "train_seconds": round(results["train_seconds"], 1),
        "epochs_run": results["epochs_run"],
        "best_epoch": results["best_epoch"],
        "best_val_auc": results["best_val_auc"],
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
            "test_scoring_samples_per_s": round((len(noise_s) + len(signal_s)) / score_seconds, 1),
        },
        "test": detection_summary(noise_s, signal_s, signals.snr),
        "speech": speech_kept(model, config.whisper),
    }
    if config.model == "lora":
        with lora_disabled(model):
            record["speech_adapter_off"] = speech_kept(model, config.whisper)
    record |= {"device": device_name("cpu", 2), "versions": versions(), "git_commit": git_commit()}
    path = OUT / config.whisper / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_scores(path.with_name(f"{name}-scores.npz"), noise_s, signal_s)
    write_json_atomic(record, path)
    fap = record["test"]["fap"]["0.001"]
    print(
        f"{config.model}: {record['samples_seen']} samples in {record['train_seconds']:.0f} s, "
        f"test AUC {record['test']['auc']:.4f}, rho50 at FAP 1e-3 {fap['rho50']}, "
        f"speech loss {record['speech']['loss']:.3f} WER {record['speech']['wer']:.3f} -> {path}"
    )


ALL_BACKGROUND_STRATEGIES = ("lora", "full_finetune", "frozen_encoder")


def score_all_background(args) -> None:
    """Every recorded strategy's checkpoint on all the matched filter's background windows.

    The record's test split covers the first windows. The checkpoint re-scores the first chunk (it
    must reproduce the saved scores) and scores every window the -scores.npz does not hold yet, so
    a second run scores nothing new and only recomputes the summaries. Each chunk's band power must
    equal the matched-filter record's, so the windows are the same ones. Writes
    ``test_all_background`` (with its provenance) into each record and every background logit into
    its -scores.npz.
    """
    from lora_teach.detection.band_power import band_power_score
    from lora_teach.train.checkpoint import load_trained
    from lora_teach.train.evaluation import classifier_scores

    torch.set_num_threads(2)
    reference = np.load(OUT / "scores.npz")
    n = len(reference["band_power_noise"])
    paths = {name: OUT / args.whisper / f"{name}.json" for name in ALL_BACKGROUND_STRATEGIES}
    records = {name: json.loads(path.read_text()) for name, path in paths.items()}
    configs = {name: TrainConfig.from_record(r["config"]) for name, r in records.items()}
    models = {name: load_trained(ROOT / "runs" / "scale" / args.whisper / name) for name in records}
    saved = {  # read once: each key of an open npz file is decompressed again on every access
        name: dict(np.load(path.with_name(f"{name}-scores.npz"))) for name, path in paths.items()
    }
    split = {r["test"]["background_windows"] for r in records.values()}
    ranges = {tuple(c.snr_range) for c in configs.values()}
    if len(split) != 1 or len(ranges) != 1:
        raise SystemExit(f"the recorded runs differ in test split {split} or SNR range {ranges}")
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
            raise SystemExit(f"{name}: its injections differ from the matched filter's")
    have = min(len(s["noise"]) for s in saved.values())
    noise = {name: [saved[name]["noise"][:have]] for name in records}
    start = time.perf_counter()
    done = 0
    for chunk in background_chunks(GWConfig(snr_range=ranges.pop()), n):
        window = slice(done, done + len(chunk))
        if not np.allclose(band_power_score(chunk.strain), reference["band_power_noise"][window]):
            raise SystemExit(f"background windows {window} differ from the matched filter's")
        if done == 0:  # the checkpoint must reproduce the saved scores
            for name, model in models.items():
                again = classifier_scores(model, configs[name], chunk)
                if not np.allclose(again, saved[name]["noise"][window], atol=1e-4):
                    raise SystemExit(f"{name}: the checkpoint does not reproduce its test scores")
        elif done >= have:
            for name, model in models.items():
                noise[name].append(classifier_scores(model, configs[name], chunk))
        elif done + len(chunk) > have:
            raise SystemExit(f"saved scores end inside chunk {window}: score from {done} again")
        done += len(chunk)
        print(f"{done:,} of {n:,} windows, {time.perf_counter() - start:.0f} s", flush=True)
    provenance = {
        "device": device_name("cpu", 2),
        "versions": versions(),
        "git_commit": git_commit(),
    }
    for name, record in records.items():
        every = np.concatenate(noise[name])
        if len(every) != n:
            raise SystemExit(f"{name}: {len(every)} background scores, expected {n}")
        signal = saved[name]["signal"]
        summary = detection_summary(every, signal, reference["snr"], faps=(1e-3, 1e-4))
        record["test_all_background"] = summary | {"scored_by": provenance}
        save_scores(paths[name].with_name(f"{name}-scores.npz"), every, signal)
        write_json_atomic(record, paths[name])
        print(name, record["test_all_background"]["fap"]["0.0001"]["rho50"])


# A data-format id that committed records carry, not a module path: never change it.
SWEEP_FORMAT = "lora_teach.scale_sweep/1"


def record_sweep(args) -> None:
    """Chapter 8's handful of points in the scale regime, each trained and scored on the test split."""
    from lora_teach.experiments.sweep import (
        point_slug,
        scale_stale_points,
        scale_sweep_configs,
        score_keys,
    )
    from lora_teach.train.checkpoint import load_trained
    from lora_teach.train.data import prepare_data
    from lora_teach.train.evaluation import classifier_features, logits
    from lora_teach.train.loop import train

    torch.set_num_threads(2)
    configs = scale_sweep_configs()
    path = OUT / args.whisper / "sweep" / "points.json"
    scores_path = path.with_name("scores.npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    record = json.loads(path.read_text()) if path.exists() else {"format": SWEEP_FORMAT}
    points = record.setdefault("points", {})
    scores = dict(np.load(scores_path)) if scores_path.exists() else {}
    first = next(iter(configs.values()))
    if args.whisper != first.whisper:
        raise SystemExit(f"the scale sweep's points train {first.whisper}, not {args.whisper}")
    split = {"background_windows": args.background, "per_snr": args.per_snr}
    if points and record.get("test_split") != split:
        raise SystemExit(
            f"{path} was scored on the test split {record.get('test_split')}, not {split}: "
            "move it away to record a new sweep"
        )
    todo = {pid: configs[pid] for pid in scale_stale_points(record)}
    if not todo:
        print(f"{path}: every point recorded with today's config")
        return
    data = prepare_data(first, progress=True)
    gw = GWConfig(snr_range=first.snr_range)
    signals = injections(gw, per_snr=args.per_snr, progress=True)

    # Every point scores the same test windows: their features are computed once (about 420 MB).
    chunks = background_chunks(gw, args.background, progress=True)
    noise_x = torch.cat([classifier_features(first, c) for c in chunks])
    signal_x = classifier_features(first, signals)
    for pid, config in todo.items():
        run_dir = ROOT / "runs" / "scale" / config.whisper / "sweep" / point_slug(pid)
        results = train(config, out=run_dir, data=data, progress=True)
        model = load_trained(run_dir)
        noise_s, signal_s = (
            logits(model, x, config.batch_size, config.device, config.autocast_precision)
            for x in (noise_x, signal_x)
        )
        points[pid] = {
            "config": results["config"],
            "parameters": results["parameters"],
            "samples_seen": results["samples_seen"],
            "train_seconds": round(results["train_seconds"], 1),
            "best_epoch": results["best_epoch"],
            "best_val_auc": results["best_val_auc"],
            "val_auc": results["history"]["val_auc"],
            "test": detection_summary(noise_s, signal_s, signals.snr),
            "device": results["device"],
            "git_commit": results["git_commit"],
        }
        noise_key, signal_key = score_keys(pid)
        scores[noise_key], scores[signal_key] = (
            noise_s.astype(np.float32),
            signal_s.astype(np.float32),
        )
        save_score_arrays(scores_path, scores)
        record["points"] = {p: points[p] for p in configs if p in points}
        record |= {"whisper": args.whisper, "test_split": split, "versions": versions()}
        write_json_atomic(record, path)
        fap = points[pid]["test"]["fap"]["0.001"]["rho50"]
        print(
            f"{pid}: val AUC {results['best_val_auc']:.4f}, test AUC "
            f"{points[pid]['test']['auc']:.4f}, rho50 at 1e-3 {fap}",
            flush=True,
        )


def record_references(args) -> None:
    """The matched filter's and band power's records on the same test windows as the strategies'."""
    scores = np.load(OUT / "scores.npz")
    for name, key in (("matched_filter", "matched_filter"), ("band_power", "band_power")):
        noise, signal = scores[f"{key}_noise"], scores[f"{key}_signal"]
        record = {
            "detector": name,
            "test": detection_summary(noise[: args.background], signal, scores["snr"]),
            "test_all_background": detection_summary(
                noise, signal, scores["snr"], faps=(1e-3, 1e-4)
            ),
            "threshold_fap1e-3": threshold_at_fap(noise[: args.background], 1e-3),
            "source": "data/results/detection/scores.npz (scripts/record_detection.py)",
            "versions": versions(),
            "git_commit": git_commit(),
        }
        write_json_atomic(record, OUT / f"{name}.json")
        print(name, record["test"]["auc"], record["test"]["fap"]["0.001"]["rho50"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", choices=("lora", "full_finetune", "frozen_encoder"))
    parser.add_argument("--matched-filter", action="store_true")
    parser.add_argument("--rescore", action="store_true", help="save a recorded run's test logits")
    parser.add_argument(
        "--all-background",
        action="store_true",
        help="score every recorded strategy on all the matched filter's background windows",
    )
    parser.add_argument("--sweep", action="store_true", help="chapter 8's points at scale")
    parser.add_argument("--whisper", default="tiny.en")
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument(
        "--representation", default="compressed", choices=("compressed", "resampled")
    )
    parser.add_argument("--background", type=int, default=20_000)
    parser.add_argument("--per-snr", type=int, default=400)
    args = parser.parse_args()
    if args.matched_filter:
        record_references(args)
    elif args.sweep:
        record_sweep(args)
    elif args.all_background:
        score_all_background(args)
    elif args.rescore and args.strategy:
        rescore(args)
    elif args.strategy:
        record_strategy(args)
    else:
        parser.error("give --strategy or --matched-filter")


if __name__ == "__main__":
    main()
