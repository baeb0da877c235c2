"""The input's ceiling: how far a detector that knows the signal gets on each input.

    python scripts/record_input_ceiling.py     (about 6 minutes on 2 cores)

For injections drawn from the prior, each at a grid of network SNRs, three known-signal oracles
(:mod:`lora_teach.detection.oracles`) are scored: the coherent statistic on the whitened strain
(phase unknown per detector, H1 + L1), and two magnitude-only statistics on exactly the mel power
the encoder reads (the log-mel features, undone: ``P = 10^(4 x - 4)``), per representation.
Each oracle's threshold comes from its own template's statistics on 10,000 noise windows; every
(injection, SNR) trial adds the template to a noise window of its own. The coherent statistic and
the weighted excess power are also maximised over a shift of +-0.3 s (the merger window's width,
0.6 s), so that the trials factor enters as it does for the searches; the likelihood ratio is
measured with the merger time known only. rho50 comes from the probit fit the searches' records
use, with a 90% bootstrap interval over injections. The record is ``data/results/detection/input_ceiling.json``.
"""

from __future__ import annotations

import numpy as np
import torch

from lora_teach._paths import DETECTION
from lora_teach.detection.metrics import fit_sensitive_snr
from lora_teach.detection.oracles import (
    coherent_statistic,
    coherent_statistics,
    gamma_coefficients,
    pixel_moments,
    thresholds_at_fap,
    weighted_excess_power,
)
from lora_teach.files import write_json_atomic
from lora_teach.gw.config import SPLITS, GWConfig
from lora_teach.gw.signals import draw_params
from lora_teach.gw.simulation import crop, simulate
from lora_teach.gw.test_split import background_chunks
from lora_teach.provenance import provenance
from lora_teach.train.features import HOP, REPRESENTATIONS, WHISPER_RATE, log_mel_batch

__all__ = ["SETUP", "templates", "power_images", "measure_input_ceiling", "record_input_ceiling"]

# A data-format id that committed records carry, not a module path: never change it.
FORMAT = "lora_teach.input_ceiling/1"
SETUP = {
    "injections": 100,
    "snrs": [float(s) for s in np.arange(2.0, 14.5, 1.0)],
    "calibration_windows": 2000,  # the pixels' noise mean and variance
    "threshold_windows": 10_000,  # each template's noise statistics
    "faps": [1e-2, 1e-3],
    "shift_seconds": 0.3,  # +-: the merger window is 0.6 s wide
    "seed": 0,
}


def templates(gw: GWConfig, n: int, seed: int) -> tuple[dict, np.ndarray]:
    """``n`` events from the prior and their noise-free whitened signals (n, detectors, samples)
    at network SNR 1, from a random stream no data set uses."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, SPLITS["test"], 3]))
    params = draw_params(gw, n, rng)
    params["target_snr"] = np.ones(n)
    signals = [crop(gw, simulate(gw, params, i, True, rng)["whitened_signal"]) for i in range(n)]
    return params, np.stack(signals)


def power_images(strain: np.ndarray, gw: GWConfig, representation: str) -> np.ndarray:
    """Mel power (n, detectors, 80, frames), float32, as the encoder's log-mel features hold it."""
    out = []
    for start in range(0, len(strain), 1000):
        x = log_mel_batch(
            strain[start : start + 1000], sample_rate=gw.sample_rate, representation=representation
        )
        out.append(torch.pow(10.0, 4 * x.double() - 4).float().numpy())
    return np.concatenate(out)


def _noise(gw: GWConfig, n: int) -> np.ndarray:
    return np.concatenate([c.strain for c in background_chunks(gw, n, progress=True)])


def _found(noise_stats, trial_stats, faps) -> dict[float, np.ndarray]:
    """Per FAP, (injections, snrs) booleans: each trial above its own template's threshold.
    ``noise_stats`` holds one row of noise statistics per template (injections, windows), or per
    template and SNR (injections, snrs, windows) where the statistic depends on the SNR."""
    found = {fap: np.zeros(trial_stats.shape, bool) for fap in faps}
    for index in np.ndindex(noise_stats.shape[:-1]):
        for fap, threshold in thresholds_at_fap(noise_stats[index], faps).items():
            found[fap][index] = trial_stats[index] > threshold
    return found


def _rho50(found: dict, snrs: np.ndarray) -> dict[str, list[float]]:
    out = {}
    for fap, hits in found.items():
        snr = np.broadcast_to(snrs, hits.shape)
        estimate, low, high = fit_sensitive_snr(snr, hits, level=0.5)
        out[f"{fap:g}"] = [round(estimate, 3), round(low, 3), round(high, 3)]
    return out


def _frames_per_second(gw: GWConfig, representation: str) -> float:
    rate = gw.sample_rate if representation == "compressed" else WHISPER_RATE
    return rate / HOP


def measure_input_ceiling(setup: dict = SETUP, gw: GWConfig | None = None) -> dict:
    """rho50 of every oracle, per FAP, with and without the time shift; see the module."""
    torch.set_num_threads(2)
    gw = gw if gw is not None else GWConfig()
    snrs = np.asarray(setup["snrs"])
    n_inj, n_snr = setup["injections"], len(snrs)
    params, signal = templates(gw, n_inj, setup["seed"])
    n_cal, n_thr = setup["calibration_windows"], setup["threshold_windows"]
    noise = _noise(gw, n_cal + n_thr + n_inj * n_snr)
    calibration, threshold = noise[:n_cal], noise[n_cal : n_cal + n_thr]
    # trial (i, j): injection i at snrs[j] in a noise window of its own
    trials = noise[n_cal + n_thr :].reshape(n_inj, n_snr, *noise.shape[1:])
    trials = trials + snrs[None, :, None, None] * signal[:, None]
    faps = setup["faps"]
    max_lag = int(round(setup["shift_seconds"] * gw.sample_rate))

    record = {"coherent": {}}
    for name, lag in (("known_time", 0), ("time_maximised", max_lag)):
        noise_stats = coherent_statistics(threshold, signal, lag)
        trial_stats = np.stack(
            [coherent_statistic(trials[i], signal[i], lag) for i in range(n_inj)]
        )
        record["coherent"][name] = _rho50(_found(noise_stats, trial_stats, faps), snrs)
    for representation in REPRESENTATIONS:
        record[representation] = _magnitude_oracles(
            gw, representation, signal, calibration, threshold, trials, snrs, setup
        )
    total_mass = params["mass1"] + params["mass2"]
    record["injections"] = {
        "total_mass_quartiles": np.percentile(total_mass, [25, 50, 75]).round(1).tolist()
    }
    return record


def _magnitude_oracles(gw, representation, signal, calibration, threshold, trials, snrs, setup):
    n_inj, n_snr = trials.shape[:2]
    faps = setup["faps"]
    mean, var = pixel_moments(power_images(calibration, gw, representation))
    # noise-free power at SNR 10, scaled to SNR 1 (far above log-mel's floor)
    template_power = power_images(10 * signal, gw, representation).astype(float) / 100
    keep = (template_power > 1e-4 * template_power.max()).any(axis=(0, 1, 3))  # mel bins
    mean, var, template_power = mean[:, keep], var[:, keep], template_power[:, :, keep]
    noise_power = power_images(threshold, gw, representation)[:, :, keep]
    flat = trials.reshape(-1, *trials.shape[2:])
    trial_power = power_images(flat, gw, representation)[:, :, keep]
    trial_power = trial_power.reshape(n_inj, n_snr, *trial_power.shape[1:])
    shift = int(round(setup["shift_seconds"] * _frames_per_second(gw, representation)))
    out = {"mel_bins_used": int(keep.sum()), "shift_frames": shift}
    q = template_power / np.sqrt(var)
    n_eff = q.sum(axis=(1, 2, 3)) ** 2 / (q**2).sum(axis=(1, 2, 3))
    out["n_eff_quartiles"] = np.percentile(n_eff, [25, 50, 75]).round(1).tolist()

    wep = {}
    for name, shifts in (("known_time", (0,)), ("time_maximised", range(-shift, shift + 1))):

        def stat(power, i, shifts=shifts):
            return weighted_excess_power(power, template_power[i], mean, var, shifts)

        noise_stats = np.stack([stat(noise_power, i) for i in range(n_inj)])
        trial_stats = np.stack([stat(trial_power[i], i) for i in range(n_inj)])
        wep[name] = _rho50(_found(noise_stats, trial_stats, faps), snrs)
    out["weighted_excess_power"] = wep

    log_noise = np.log(np.clip(noise_power, 1e-30, None)).reshape(len(noise_power), -1)
    lin_noise = noise_power.reshape(len(noise_power), -1)
    noise_stats = np.empty((n_inj, n_snr, len(noise_power)))
    trial_stats = np.empty((n_inj, n_snr))
    for i in range(n_inj):
        coefficients = [gamma_coefficients(template_power[i], mean, var, s) for s in snrs]
        a = np.stack([c[0].ravel() for c in coefficients], axis=1)
        b = np.stack([c[1].ravel() for c in coefficients], axis=1)
        c = np.array([c[2] for c in coefficients])
        noise_stats[i] = (log_noise @ a + lin_noise @ b + c).T
        power = trial_power[i].reshape(n_snr, -1)
        log_power = np.log(np.clip(power, 1e-30, None))
        trial_stats[i] = np.einsum("jp,pj->j", log_power, a) + np.einsum("jp,pj->j", power, b) + c
    found = _found(noise_stats, trial_stats, faps)
    out["gamma_likelihood_ratio"] = {"known_time": _rho50(found, snrs)}
    return out


def record_input_ceiling(setup: dict = SETUP) -> dict:
    """Measure and write ``input_ceiling.json``; returns the record."""
    record = {"format": FORMAT, "setup": setup} | measure_input_ceiling(setup)
    record |= provenance("cpu", 2)
    write_json_atomic(record, DETECTION / "input_ceiling.json")
    return record
