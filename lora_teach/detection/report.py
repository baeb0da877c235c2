"""A detector's record on the held-out test split: AUC, efficiency by SNR, rho50 and rho90 per FAP.

Any detector reduces to two score arrays (noise windows, injections) and the injections' SNRs;
:func:`detection_summary` turns them into the JSON-ready record every recorded detector shares
(``data/results/detection/``); ``lora_teach.train.evaluation.classifier_test_scores`` produces them
for a trained Whisper classifier.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from lora_teach.detection.metrics import auc_standard_error, efficiency_curve, sensitive_snr

__all__ = ["FAPS", "SNR_BINS", "detection_summary"]

FAPS = (1e-2, 1e-3)
SNR_BINS = np.arange(3.5, 17.0, 1.0)  # one bin per integer SNR of the injection grid (4 ... 16)


def detection_summary(noise_scores, signal_scores, snr, faps=FAPS, n_boot: int = 200) -> dict:
    """``auc`` (+ standard error) and, per FAP (keyed like ``"0.001"``), the threshold, the
    efficiency per SNR bin and rho50 / rho90 with 90% bootstrap intervals."""
    noise, signal = np.asarray(noise_scores, float), np.asarray(signal_scores, float)
    labels = np.r_[np.zeros(len(noise)), np.ones(len(signal))]
    auc = float(roc_auc_score(labels, np.r_[noise, signal]))
    out = {
        "background_windows": len(noise),
        "injections": len(signal),
        "auc": auc,
        "auc_se": auc_standard_error(auc, len(signal), len(noise)),
        "fap": {},
    }
    for fap in faps:
        curve = efficiency_curve(noise, signal, snr, fap, SNR_BINS)
        try:
            rho = sensitive_snr(noise, signal, snr, fap, n_boot=n_boot)
            sensitive = {
                f"rho{round(100 * level)}": [float(x) for x in v] for level, v in rho.items()
            }
        except ValueError:  # every signal found, or none: no SNR at which half are found
            sensitive = {"rho50": None, "rho90": None}
        out["fap"][f"{fap:g}"] = {
            "efficiency": {k: np.asarray(v).round(5).tolist() for k, v in curve.items()},
            **sensitive,
        }
    return out
