"""How good is a detector? The ROC AUC's uncertainty, and what the gravitational-wave field asks:
the fraction of signals detected at a fixed false-alarm probability (FAP), by signal-to-noise ratio.

Scores are a detector's raw statistic or logit, larger meaning more signal-like. Rank by those,
never by a saturating probability: a sigmoid maps the loudest noise and the signals above it to
the same 1.0, and the threshold at a small FAP is lost in the tie.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

__all__ = [
    "auc_standard_error",
    "paired_auc_difference",
    "threshold_at_fap",
    "efficiency",
    "efficiency_curve",
    "sensitive_snr",
    "sensitive_snr_ratio",
    "fit_sensitive_snr",
    "ceiling_efficiency",
    "false_alarms_per_month",
]

SECONDS_PER_MONTH = 365.25 / 12 * 86400


def auc_standard_error(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil (1982): the standard error of an ROC AUC measured on n_pos and n_neg events."""
    if not 0.0 <= auc <= 1.0:
        raise ValueError(f"auc must be in [0, 1], got {auc}")
    if n_pos < 1 or n_neg < 1:
        raise ValueError(f"need at least one event of each class, got n_pos={n_pos}, n_neg={n_neg}")
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)
    return (variance / (n_pos * n_neg)) ** 0.5


def _auc(noise: np.ndarray, signal: np.ndarray) -> float:
    """P(signal score > noise score) + half the ties: the ROC AUC, from ranks."""
    ranks = stats.rankdata(np.concatenate([noise, signal]))
    n_s = len(signal)
    return float((ranks[len(noise) :].sum() - n_s * (n_s + 1) / 2) / (n_s * len(noise)))


def paired_auc_difference(
    noise_a, signal_a, noise_b, signal_b, n_boot: int = 1000, seed: int = 0
) -> tuple[float, float, float]:
    """AUC(a) - AUC(b) of two detectors scored on the same events, with a 90% paired bootstrap
    interval: every resample draws the same noise windows and signals for both, so what they
    share (which events are hard) cancels, as it does not when each AUC's own error is quoted."""
    noise_a, signal_a = _scores("noise_a", noise_a), _scores("signal_a", signal_a)
    noise_b, signal_b = _scores("noise_b", noise_b), _scores("signal_b", signal_b)
    if noise_a.shape != noise_b.shape or signal_a.shape != signal_b.shape:
        raise ValueError(
            "paired scores must cover the same events: got noise "
            f"{noise_a.shape} vs {noise_b.shape} and signals {signal_a.shape} vs {signal_b.shape}"
        )
    rng = np.random.default_rng(seed)
    diff = _auc(noise_a, signal_a) - _auc(noise_b, signal_b)
    boot = []
    for _ in range(n_boot):
        i = rng.integers(0, len(noise_a), len(noise_a))
        j = rng.integers(0, len(signal_a), len(signal_a))
        boot.append(_auc(noise_a[i], signal_a[j]) - _auc(noise_b[i], signal_b[j]))
    low, high = np.percentile(boot, [5, 95])
    return diff, float(low), float(high)


def _scores(name: str, scores) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or len(scores) == 0 or not np.isfinite(scores).all():
        bad = int((~np.isfinite(scores)).sum())
        raise ValueError(
            f"{name} must be a non-empty 1-D array of finite scores, got shape {scores.shape} "
            f"with {bad} non-finite"
        )
    return scores


def _check_fap(fap: float, n_noise: int) -> None:
    if not 0.0 < fap < 1.0:
        raise ValueError(f"fap must be in (0, 1), got {fap}")
    needed = math.ceil(10 / fap - 1e-9)
    if n_noise < needed:
        raise ValueError(
            f"a FAP of {fap:g} needs at least {needed} noise windows (10 / FAP) to be measured, "
            f"got {n_noise}"
        )


def threshold_at_fap(noise_scores, fap: float) -> float:
    """The score that at most a fraction ``fap`` of the noise windows exceed (strictly).

    Needs at least 10 / ``fap`` noise windows: fewer leave the threshold set by a handful of
    the loudest noise windows.
    """
    noise = _scores("noise_scores", noise_scores)
    _check_fap(fap, len(noise))
    allowed = int(math.floor(fap * len(noise) + 1e-9))  # noise windows allowed above it
    return float(np.sort(noise)[::-1][allowed])


def efficiency(noise_scores, signal_scores, fap: float) -> float:
    """The fraction of signals whose score exceeds the threshold at ``fap`` (see :func:`threshold_at_fap`)."""
    threshold = threshold_at_fap(noise_scores, fap)
    return float(np.mean(_scores("signal_scores", signal_scores) > threshold))


def efficiency_curve(
    noise_scores, signal_scores, snr, fap: float, bins, confidence: float = 0.683
) -> dict:
    """Detected fraction per SNR bin at ``fap``, with Clopper-Pearson intervals at ``confidence``.

    Returns arrays keyed ``snr`` (bin centres), ``n``, ``detected``, ``efficiency``, ``lower``,
    ``upper`` (empty bins have efficiency NaN and the interval [0, 1]).
    """
    signal, snr, bins = (
        _scores("signal_scores", signal_scores),
        np.asarray(snr, float),
        np.asarray(bins, float),
    )
    if snr.shape != signal.shape:
        raise ValueError(f"snr must match signal_scores, got shapes {snr.shape} and {signal.shape}")
    found = signal > threshold_at_fap(noise_scores, fap)
    which = np.digitize(snr, bins) - 1
    n = np.array([np.sum(which == b) for b in range(len(bins) - 1)])
    k = np.array([np.sum(found[which == b]) for b in range(len(bins) - 1)])
    tail = (1 - confidence) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = np.where(k > 0, stats.beta.ppf(tail, k, n - k + 1), 0.0)
        upper = np.where(k < n, stats.beta.ppf(1 - tail, k + 1, n - k), 1.0)
        rate = np.where(n > 0, k / np.maximum(n, 1), np.nan)
    return {
        "snr": (bins[:-1] + bins[1:]) / 2,
        "n": n,
        "detected": k,
        "efficiency": rate,
        "lower": lower,
        "upper": upper,
    }


def _probit_fit(snr: np.ndarray, found: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood (centre, width) of P(found | snr) = Phi((snr - centre) / width)."""

    def loss(params):
        centre, log_width = params
        p = stats.norm.cdf((snr - centre) / math.exp(log_width)).clip(1e-12, 1 - 1e-12)
        return -np.sum(np.where(found, np.log(p), np.log1p(-p)))

    start = (float(np.median(snr)), math.log(max(np.std(snr) / 2, 1e-3)))
    result = optimize.minimize(
        loss,
        start,
        method="Nelder-Mead",
        # A curve centred far below the SNRs tested (a strong detector at a loose FAP) takes the
        # simplex a long walk from the median start: allow it 10x scipy's default evaluations.
        options={"xatol": 1e-6, "fatol": 1e-9, "maxfev": 4000},
    )
    if not result.success:
        raise RuntimeError(f"the probit fit did not converge: {result.message}")
    return float(result.x[0]), float(math.exp(result.x[1]))


def sensitive_snr(
    noise_scores,
    signal_scores,
    snr,
    fap: float,
    levels=(0.5, 0.9),
    n_boot: int = 200,
    seed: int = 0,
) -> dict[float, tuple[float, float, float]]:
    """The SNR at which a fraction ``level`` of signals is detected at ``fap`` (rho50, rho90, ...).

    Fits P(detected | SNR) = Phi((SNR - c) / w) to every signal (no binning), so rho_level =
    c + w Phi^-1(level). Returns ``{level: (estimate, low, high)}`` with a 90% bootstrap interval
    that resamples both the noise (the threshold) and the signals.
    """
    noise, signal = _scores("noise_scores", noise_scores), _scores("signal_scores", signal_scores)
    snr = np.asarray(snr, float)
    if snr.shape != signal.shape:
        raise ValueError(f"snr must match signal_scores, got shapes {snr.shape} and {signal.shape}")
    if not all(0.0 < level < 1.0 for level in levels):
        raise ValueError(f"levels must lie in (0, 1), got {tuple(levels)}")
    _check_estimable(noise, signal, snr, fap)

    def estimate(noise, signal, snr):
        centre, width = _probit_fit(snr, signal > threshold_at_fap(noise, fap))
        return [centre + width * stats.norm.ppf(level) for level in levels]

    best = estimate(noise, signal, snr)
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_boot):
        i, j = rng.integers(0, len(noise), len(noise)), rng.integers(0, len(signal), len(signal))
        boot.append(estimate(noise[i], signal[j], snr[j]))
    low, high = np.percentile(np.array(boot), [5, 95], axis=0)
    return {level: (best[m], float(low[m]), float(high[m])) for m, level in enumerate(levels)}


def sensitive_snr_ratio(
    noise_a,
    signal_a,
    noise_b,
    signal_b,
    snr,
    fap: float,
    level: float = 0.5,
    n_boot: int = 500,
    seed: int = 0,
) -> tuple[float, float, float]:
    """rho_level of detector a over detector b's, both scored on the same noise windows and the
    same injections (in the same order), with a 90% **paired** bootstrap interval: each resampling
    draws one set of windows and injections for both, so what the two share (which windows are
    loud, which injections are hard) cancels in the ratio. Returns (ratio, low, high)."""
    noise_a, noise_b = _scores("noise_a", noise_a), _scores("noise_b", noise_b)
    signal_a, signal_b = _scores("signal_a", signal_a), _scores("signal_b", signal_b)
    snr = np.asarray(snr, float)
    if noise_a.shape != noise_b.shape or not signal_a.shape == signal_b.shape == snr.shape:
        raise ValueError(
            "a paired ratio needs both detectors on the same windows and injections, got noise "
            f"{noise_a.shape} and {noise_b.shape}, signals {signal_a.shape} and {signal_b.shape}, "
            f"snr {snr.shape}"
        )
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise ValueError(f"n_boot must be an int >= 1, got {n_boot!r}")
    _check_estimable(noise_a, signal_a, snr, fap, "detector a")
    _check_estimable(noise_b, signal_b, snr, fap, "detector b")

    def ratio(i, j):
        rho = [
            _rho(noise[i], signal[j], snr[j], fap, level)
            for noise, signal in ((noise_a, signal_a), (noise_b, signal_b))
        ]
        if rho[1] <= 0:
            raise ValueError(f"detector b's rho at level {level} is {rho[1]:.3g}: no ratio")
        return rho[0] / rho[1]

    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_boot):
        i = rng.integers(0, len(noise_a), len(noise_a))
        j = rng.integers(0, len(snr), len(snr))
        boot.append(ratio(i, j))
    every_window, every_injection = np.arange(len(noise_a)), np.arange(len(snr))
    low, high = np.percentile(boot, [5, 95])
    return float(ratio(every_window, every_injection)), float(low), float(high)


def _check_estimable(noise, signal, snr, fap: float, who: str = "") -> None:
    found = signal > threshold_at_fap(noise, fap)
    if found.all() or not found.any():
        raise ValueError(
            f"{who + ': ' if who else ''}{found.sum()} of {len(found)} signals are detected at "
            f"FAP {fap:g}: the SNRs tested "
            f"({snr.min():g} to {snr.max():g}) must include signals both found and missed"
        )


def _rho(noise, signal, snr, fap: float, level: float) -> float:
    centre, width = _probit_fit(snr, signal > threshold_at_fap(noise, fap))
    return centre + width * stats.norm.ppf(level)


def fit_sensitive_snr(
    snr: np.ndarray, found: np.ndarray, level: float = 0.5, n_boot: int = 200, seed: int = 0
) -> tuple[float, float, float]:
    """rho_level from trials of known injections: ``found`` (injections, snrs) says which were
    detected at ``snr`` (same shape). The probit fit of :func:`sensitive_snr`, with a 90%
    bootstrap interval that resamples injections (rows). Returns (estimate, low, high)."""
    snr, found = np.asarray(snr, float), np.asarray(found, bool)
    if snr.shape != found.shape or snr.ndim != 2:
        raise ValueError(f"snr and found must be 2-D of one shape, got {snr.shape}, {found.shape}")

    def estimate(rows):
        centre, width = _probit_fit(snr[rows].ravel(), found[rows].ravel())
        return centre + width * stats.norm.ppf(level)

    rng = np.random.default_rng(seed)
    rows = np.arange(len(snr))
    boot = [estimate(rng.integers(0, len(snr), len(snr))) for _ in range(n_boot)]
    low, high = np.percentile(boot, [5, 95])
    return float(estimate(rows)), float(low), float(high)


def ceiling_efficiency(snr, fap: float, phase: str = "unknown") -> np.ndarray:
    """The best any detector can do for an exactly known signal at ``snr``, at false-alarm ``fap``.

    ``phase="known"``: the matched-filter statistic is N(snr, 1) on signals and N(0, 1) on noise,
    so efficiency = Phi(snr - z) with z = Phi^-1(1 - fap). ``phase="unknown"``: maximising over the
    phase, the statistic |z|^2 follows a chi-squared with 2 degrees of freedom on noise and a
    non-central one (non-centrality snr^2) on signals.
    """
    if not 0.0 < fap < 1.0:
        raise ValueError(f"fap must be in (0, 1), got {fap}")
    snr = np.asarray(snr, float)
    if phase == "known":
        return stats.norm.sf(stats.norm.isf(fap) - snr)
    if phase == "unknown":
        return stats.ncx2.sf(stats.chi2.isf(fap, 2), 2, snr**2)
    raise ValueError(f"phase must be 'known' or 'unknown', got {phase!r}")


def false_alarms_per_month(fap: float, stride_seconds: float) -> float:
    """False alarms a month from a per-window ``fap`` when a new window starts every ``stride_seconds``."""
    if not 0.0 < fap < 1.0:
        raise ValueError(f"fap must be in (0, 1), got {fap}")
    if not stride_seconds > 0:
        raise ValueError(f"stride_seconds must be positive, got {stride_seconds}")
    return fap * SECONDS_PER_MONTH / stride_seconds
