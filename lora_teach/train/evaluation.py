"""Scoring a classifier on a data set: logits in batches, ROC AUC and the loss; its test-split
scores, chunk by chunk, so 100,000 background windows never sit in memory as features."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from lora_teach.train.features import classifier_inputs
from lora_teach.train.precision import autocast

__all__ = [
    "logits",
    "evaluate",
    "validation_loss",
    "classifier_features",
    "classifier_scores",
    "classifier_test_scores",
]


def logits(
    model: nn.Module,
    x: torch.Tensor,
    batch_size: int = 32,
    device: str = "cpu",
    precision: str = "fp32",
) -> np.ndarray:
    """The logits of ``model`` on inputs ``x`` (n, 2, 80, frames), in batches: larger means more
    signal-like. Rank detections by these, not by a sigmoid that saturates at 1."""
    model.eval()
    scores = []
    with torch.no_grad(), autocast(device, precision):
        for i in range(0, len(x), batch_size):
            xb = x[i : i + batch_size].to(device)
            scores.append(model(xb[:, 0], xb[:, 1]).float().cpu())
    out = torch.cat(scores)
    if not torch.isfinite(out).all():
        raise FloatingPointError(
            f"{int((~torch.isfinite(out)).sum())} of {len(out)} logits are not finite under "
            f"{precision} on {device}: the training diverged or overflowed (try precision='fp32' "
            "or a lower learning rate)"
        )
    return out.numpy()


def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int = 32,
    device: str = "cpu",
    precision: str = "fp32",
) -> tuple[float, np.ndarray]:
    """(ROC AUC, logits) of ``model`` on inputs ``x`` (n, 2, 80, frames) with labels ``y``, in batches.

    Training scores its validation set with this very function, so a reloaded model evaluated with
    the same batch size reproduces the recorded AUC bit for bit.
    """
    scores = logits(model, x, batch_size, device, precision)
    return float(roc_auc_score(y.numpy(), scores)), scores


def validation_loss(logits: np.ndarray, y: torch.Tensor) -> float:
    """Binary cross-entropy of ``logits`` against the labels ``y``."""
    return nn.functional.binary_cross_entropy_with_logits(torch.from_numpy(logits), y).item()


def classifier_features(config, events):
    """The inputs of a data set of events (log-mel features or strain), as the run's
    :class:`~lora_teach.train.config.TrainConfig` (representation, padding) feeds them to its classifier."""
    return classifier_inputs(
        events.strain,
        sample_rate=events.config.sample_rate,
        representation=config.representation,
        pad_to_30s=config.pad_to_30s,
    )


def classifier_scores(model, config, events) -> np.ndarray:
    """A trained classifier's logits for one data set of events (``config``: the run's
    :class:`~lora_teach.train.config.TrainConfig`: representation, batch size, device, precision)."""
    features = classifier_features(config, events)
    return logits(model, features, config.batch_size, config.device, config.autocast_precision)


def classifier_test_scores(model, config, signals, noise_chunks) -> tuple[np.ndarray, np.ndarray]:
    """(noise logits, signal logits) of a trained classifier on the test split.

    ``config`` is the run's :class:`~lora_teach.train.config.TrainConfig` (representation, batch size,
    device); ``signals`` a :class:`~lora_teach.gw.simulation.GWDataset` of injections; ``noise_chunks`` an
    iterable of background data sets (``lora_teach.gw.test_split.background_chunks``).
    """
    noise = np.concatenate([classifier_scores(model, config, chunk) for chunk in noise_chunks])
    return noise, classifier_scores(model, config, signals)
