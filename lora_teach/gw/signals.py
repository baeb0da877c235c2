"""Binary black-hole waveforms from lalsimulation, projected onto each detector.

``draw_params`` draws the events (masses, aligned spins, sky position, orientation, merger time,
target SNR); ``signal_fft`` turns one into the signal each detector records, in the frequency domain
of the noise buffer, with lal's antenna patterns and arrival-time delays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from lora_teach.gw.lal import import_lal

if TYPE_CHECKING:
    from lora_teach.gw.config import GWConfig

__all__ = [
    "antenna_response",
    "draw_params",
    "polarisations",
    "trim_and_taper",
    "place_fft",
    "signal_fft",
]


def antenna_response(
    detector: str, ra: float, dec: float, psi: float, gps: float
) -> tuple[float, float, float]:
    """(F+, Fx, arrival delay from the Earth's centre in s) for ``detector`` at ``gps``."""
    lal, _ = import_lal()
    det = lal.cached_detector_by_prefix[detector]
    gmst = lal.GreenwichMeanSiderealTime(gps)
    fp, fc = lal.ComputeDetAMResponse(det.response, ra, dec, psi, gmst)
    return fp, fc, lal.TimeDelayFromEarthCenter(det.location, ra, dec, gps)


def draw_params(config: GWConfig, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``n`` events from the priors in ``config``: one array per parameter."""
    m = rng.uniform(*config.mass_range, size=(n, 2))
    return {
        "mass1": m.max(axis=1),
        "mass2": m.min(axis=1),
        "spin1z": rng.uniform(*config.spin_range, n),
        "spin2z": rng.uniform(*config.spin_range, n),
        "distance_mpc": rng.uniform(*config.distance_range_mpc, n),
        "ra": rng.uniform(0, 2 * np.pi, n),
        "dec": np.arcsin(rng.uniform(-1, 1, n)),
        "psi": rng.uniform(0, np.pi, n),
        "inclination": np.arccos(rng.uniform(-1, 1, n)),
        "phase": rng.uniform(0, 2 * np.pi, n),
        "gps": rng.uniform(*config.gps_range, n),
        "merger_time": rng.uniform(*config.merger_window, n) * config.segment_seconds,
        "target_snr": rng.uniform(*config.snr_range, n),
    }


def polarisations(config: GWConfig, p: dict, i: int) -> tuple[np.ndarray, np.ndarray, float]:
    """h+, hx of event ``i`` from lalsimulation and the index of the merger (t = 0) within them."""
    lal, lalsimulation = import_lal()
    hp, hc = lalsimulation.SimInspiralChooseTDWaveform(
        p["mass1"][i] * lal.MSUN_SI,
        p["mass2"][i] * lal.MSUN_SI,
        0.0,
        0.0,
        p["spin1z"][i],
        0.0,
        0.0,
        p["spin2z"][i],
        p["distance_mpc"][i] * 1e6 * lal.PC_SI,
        p["inclination"][i],
        p["phase"][i],
        0.0,
        0.0,
        0.0,
        1.0 / config.sample_rate,
        config.f_lower,
        config.f_lower,
        lal.CreateDict(),
        getattr(lalsimulation, config.approximant),
    )
    merger_index = -float(hp.epoch) * config.sample_rate  # epoch is the time of the first sample
    return np.array(hp.data.data), np.array(hc.data.data), merger_index


def trim_and_taper(
    hp: np.ndarray, hc: np.ndarray, t0: float, merger: float, fs: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Keep at most the waveform's last (merger - 0.5 s) before the merger, tapered in over 0.25 s.

    ``t0`` is the merger's index in the waveform, ``merger`` the (fractional) index where it will
    sit in the buffer. Returns the trimmed polarisations and how many samples precede the merger.
    """
    keep_before = int(min(t0, merger - 0.5 * fs))
    first = int(t0) - keep_before
    hp, hc = hp[first:], hc[first:]
    taper = min(len(hp), int(0.25 * fs))
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, taper))
    hp[:taper] *= ramp
    hc[:taper] *= ramp
    return hp, hc, keep_before


def place_fft(
    h: np.ndarray, t0: float, keep_before: int, merger: float, delay: float, config: GWConfig
) -> np.ndarray:
    """rfft over the noise buffer of a trimmed waveform whose merger sits at index ``merger`` + ``delay`` s."""
    n, fs = config.n_noise, config.sample_rate
    freqs = np.fft.rfftfreq(n, 1.0 / fs)
    buf = np.zeros(n)
    offset = int(np.floor(merger)) - keep_before
    stop = min(n, offset + len(h))
    buf[offset:stop] = h[: stop - offset]
    # sub-sample shift: the remaining fraction of the merger index plus the detector's delay
    shift = (merger - np.floor(merger)) - (t0 - int(t0)) + delay * fs
    return np.fft.rfft(buf) * np.exp(-2j * np.pi * freqs * shift / fs)


def signal_fft(config: GWConfig, p: dict, i: int) -> np.ndarray:
    """rfft of the projected signal in each detector over the noise buffer, merger where drawn."""
    hp, hc, t0 = polarisations(config, p, i)
    fs = config.sample_rate
    start = (config.n_noise - config.n_segment) // 2  # the segment's first sample in the buffer
    merger = start + p["merger_time"][i] * fs  # fractional index of the geocentric merger
    hp, hc, keep_before = trim_and_taper(hp, hc, t0, merger, fs)
    out = []
    for det in config.detectors:
        fp, fc, delay = antenna_response(det, p["ra"][i], p["dec"][i], p["psi"][i], p["gps"][i])
        out.append(place_fft(fp * hp + fc * hc, t0, keep_before, merger, delay, config))
    return np.stack(out)
