"""The training loop: train the GW classifier with one of three strategies, validate after every
epoch, stop early or on a wall-clock budget, keep the best checkpoint, and record everything in
results.json. The configuration is a :class:`~lora_teach.train.config.TrainConfig`; the command
line that builds one is :mod:`lora_teach.train.cli`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from lora_teach.files import write_json_atomic
from lora_teach.lora_plus import lora_plus_param_groups
from lora_teach.params import count_parameters
from lora_teach.provenance import provenance
from lora_teach.train.checkpoint import save_trained
from lora_teach.train.classifier import build_classifier
from lora_teach.train.config import TrainConfig
from lora_teach.train.data import TrainingData, prepare_data
from lora_teach.train.environment import check_environment
from lora_teach.train.evaluation import evaluate, validation_loss
from lora_teach.train.precision import autocast, grad_scaler
from lora_teach.whisper.load import load_whisper

__all__ = ["train"]


def _shuffled(n: int, per_epoch: int | None, generator: torch.Generator):
    """Each epoch's sample indices: a fresh permutation of the ``n`` samples, or, with
    ``per_epoch``, the next ``per_epoch`` of a stream of permutations (a new one begins where the
    last runs out), so every sample is seen once before any is seen twice."""
    if per_epoch is None:
        while True:
            yield torch.randperm(n, generator=generator)
    pending = torch.empty(0, dtype=torch.long)
    while True:
        while len(pending) < per_epoch:
            pending = torch.cat([pending, torch.randperm(n, generator=generator)])
        yield pending[:per_epoch]
        pending = pending[per_epoch:]


def _curriculum_order(
    y: torch.Tensor, snr: torch.Tensor, floor: float, n: int, generator: torch.Generator
) -> torch.Tensor:
    """``n`` shuffled indices: half signals with SNR at or above ``floor``, half noise."""
    signal = torch.nonzero((y == 1) & (snr >= floor)).flatten()
    noise = torch.nonzero(y == 0).flatten()
    n_signal = n // 2
    if len(signal) < n_signal or len(noise) < n - n_signal:
        raise ValueError(
            f"snr_curriculum floor {floor} leaves {len(signal)} training signals and "
            f"{len(noise)} noise windows; an epoch of {n} needs {n_signal} and {n - n_signal}"
        )
    pick = torch.cat(
        [
            signal[torch.randperm(len(signal), generator=generator)[:n_signal]],
            noise[torch.randperm(len(noise), generator=generator)[: n - n_signal]],
        ]
    )
    return pick[torch.randperm(n, generator=generator)]


def _train_epoch(
    model, optimiser, scaler, schedule, x, y, config: TrainConfig, order, progress: bool
) -> float:
    """One pass over ``x`` in the order given (at most ``max_steps`` batches); the mean loss.

    Under fp16 the loss is scaled before the backward pass (``scaler``) so that small gradients do
    not underflow; with bf16 or fp32 the scaler passes everything through unchanged.
    """
    model.train()
    precision = config.autocast_precision
    loss_fn = nn.BCEWithLogitsLoss()
    losses = []
    batches = range(0, len(order), config.batch_size)
    for step, i in enumerate(tqdm(batches, desc="batches", leave=False, disable=not progress)):
        if config.max_steps is not None and step >= config.max_steps:
            break
        idx = order[i : i + config.batch_size]
        xb, yb = x[idx].to(config.device), y[idx].to(config.device)
        with autocast(config.device, precision):
            loss = loss_fn(model(xb[:, 0], xb[:, 1]).float(), yb)
        optimiser.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()
        schedule.step()
        losses.append(loss.item())
    if config.on_cuda:
        torch.cuda.synchronize(config.device)
    return float(np.mean(losses))


def _optimiser(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over what trains; LoRA+ gives B its own, faster learning rate."""
    if config.strategy == "lora" and config.lora_plus_ratio is not None:
        params = lora_plus_param_groups(
            model, config.learning_rate, config.lora_plus_ratio, config.weight_decay
        )
    else:
        params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)


WARMUP = 0.05  # the cosine schedule's linear warm-up, as a share of the planned steps


def _planned_steps(config: TrainConfig, data: TrainingData) -> int:
    """The optimiser steps ``config.epochs`` epochs take (a budget cut short by ``patience`` or
    ``max_minutes`` takes fewer: the cosine schedule then ends above zero)."""
    per_epoch = -(-(config.epoch_samples or len(data.x_train)) // config.batch_size)
    if config.max_steps is not None:
        per_epoch = min(per_epoch, config.max_steps)
    return per_epoch * config.epochs


def _schedule(optimiser, config: TrainConfig, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """The learning rate's multiplier by step: 1 (``constant``), or a linear warm-up over the
    first ``WARMUP`` of the steps, then a cosine from 1 down to 0 at the last (``cosine``)."""
    warmup = max(1, round(WARMUP * steps))

    def factor(step: int) -> float:
        if config.schedule == "constant":
            return 1.0
        if step < warmup:
            return (step + 1) / warmup
        done = min(1.0, (step - warmup) / max(1, steps - warmup))
        return 0.5 * (1 + math.cos(math.pi * done))

    return torch.optim.lr_scheduler.LambdaLR(optimiser, factor)


def _epoch_orders(config: TrainConfig, data: TrainingData):
    """Each epoch's sample indices: the curriculum's epochs first, then the shuffled stream."""
    stream = _shuffled(len(data.x_train), config.epoch_samples, _generator(config.seed))
    # The curriculum draws from its own generator, so the epochs after it see the same stream of
    # samples as a run without one.
    loud_first = _generator(config.seed + 1)
    n = config.epoch_samples or len(data.x_train)
    for floor in config.snr_curriculum:
        yield _curriculum_order(data.y_train, data.snr_train, floor, n, loud_first)
    yield from stream


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _samples_seen(order: torch.Tensor, config: TrainConfig) -> int:
    """How many samples an epoch over ``order`` trained on (``max_steps`` batches at most)."""
    steps = -(-len(order) // config.batch_size)
    if config.max_steps is not None and steps > config.max_steps:
        return config.max_steps * config.batch_size
    return len(order)


def _out_of_patience(config: TrainConfig, epoch: int, best_epoch: int) -> bool:
    return config.patience is not None and epoch - best_epoch >= config.patience


def _out_of_time(config: TrainConfig, history: dict) -> bool:
    budget = config.max_minutes
    return budget is not None and sum(history["epoch_seconds"]) > 60 * budget


def train(
    config: TrainConfig,
    out: str | Path | None = None,
    data: TrainingData | None = None,
    progress: bool = True,
    on_epoch: Callable[[nn.Module, int], object] | None = None,
) -> dict:
    """Train one strategy; return the results dict (also written to ``out/results.json`` if given).

    Keeps the epoch with the best validation AUC (its checkpoint goes to ``out``); stops early after
    ``patience`` epochs without a better one, or after the epoch in which the training time passed
    ``max_minutes``. ``on_epoch(model, epoch)``, if given, runs after each
    epoch's validation (the model in eval mode); what it returns is kept, epoch by epoch, in
    ``results["history"]["on_epoch"]`` (JSON-serialisable values only, if ``out`` is given).
    """
    check_environment(config)
    torch.set_num_threads(config.threads)
    data = data if data is not None else prepare_data(config, progress)
    torch.manual_seed(config.seed)
    whisper = None if config.strategy == "cnn" else load_whisper(config.whisper, device="cpu")
    encoder = None if whisper is None else whisper.encoder
    model = build_classifier(encoder, config).to(config.device)
    optimiser = _optimiser(model, config)
    schedule = _schedule(optimiser, config, _planned_steps(config, data))
    scaler = grad_scaler(config.device, config.autocast_precision)
    out = Path(out) if out is not None else None
    if config.on_cuda:
        torch.cuda.reset_peak_memory_stats(config.device)

    history: dict[str, list] = {
        k: [] for k in ("train_loss", "val_loss", "val_auc", "epoch_seconds", "samples_seen")
    }
    orders = _epoch_orders(config, data)
    seen = 0
    best = {"val_auc": -math.inf, "epoch": None, "scores": None, "files": []}
    epochs = range(1, config.epochs + 1)
    for epoch in tqdm(epochs, desc=f"{config.strategy} epochs", disable=not progress):
        start = time.perf_counter()
        order = next(orders)
        loss = _train_epoch(
            model, optimiser, scaler, schedule, data.x_train, data.y_train, config, order, progress
        )
        history["train_loss"].append(loss)
        history["epoch_seconds"].append(time.perf_counter() - start)
        seen += _samples_seen(order, config)
        history["samples_seen"].append(seen)
        precision = config.autocast_precision
        val_auc, scores = evaluate(
            model, data.x_val, data.y_val, config.batch_size, config.device, precision
        )
        history["val_loss"].append(validation_loss(scores, data.y_val))
        history["val_auc"].append(val_auc)
        if on_epoch is not None:
            history.setdefault("on_epoch", []).append(on_epoch(model, epoch))
        if val_auc > best["val_auc"]:
            best = {"val_auc": val_auc, "epoch": epoch, "scores": scores, "files": []}
            if out is not None:
                best["files"] = save_trained(model, config, out)
        elif _out_of_patience(config, epoch, best["epoch"]):
            break
        if _out_of_time(config, history):
            break
    results = _results(config, model, data, history, best, seen)
    if out is not None:
        write_json_atomic(results, out / "results.json")
    return results


def _results(config, model, data, history, best, seen) -> dict:
    counts = count_parameters(model)
    return {
        "config": config.record(),
        "profile": config.profile,
        "parameters": {
            "total": counts.total,
            "trainable": counts.trainable,
            "trainable_percent": counts.percent,
        },
        "history": history,
        "epochs_run": len(history["val_auc"]),
        "best_epoch": best["epoch"],
        "best_val_auc": best["val_auc"],
        "best_val_loss": history["val_loss"][best["epoch"] - 1],
        "mean_epoch_seconds": float(np.mean(history["epoch_seconds"])),
        "train_seconds": float(np.sum(history["epoch_seconds"])),
        "samples_seen": seen,
        "peak_gpu_memory_bytes": torch.cuda.max_memory_allocated(config.device)
        if config.on_cuda
        else None,
        "val_labels": data.y_val.numpy().astype(int).tolist(),
        "val_snr": data.snr_val.numpy().round(4).tolist(),
        "val_scores_best": np.round(best["scores"], 5).tolist(),
        "checkpoint_files": best["files"],
    } | provenance(config.device, config.threads)
