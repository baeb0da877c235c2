"""A template bank for the matched-filter search, placed over the injections' own prior.

A template is the face-on IMRPhenomD waveform h+ of one (mass1, mass2, spin1z, spin2z), whitened
with the data's PSD. For the dominant (2,2) mode, which is all IMRPhenomD models, every detector's
signal is such a template up to amplitude, phase and arrival time, so sky position and orientation
need no templates. The **match** of two whitened waveforms a, b is their normalised overlap
maximised over a time shift and a phase,

    match(a, b) = max_t |sum_f a(f) b*(f) exp(2 pi i f t)| / (|a| |b|),

computed with an inverse FFT over the band's positive frequencies (the complex, analytic overlap
whose modulus is the maximum over phase).

**The rule** (stochastic placement, Harry, Allen & Sathyaprakash 2009): draw proposals and keep
one if its match with every template kept so far is below the minimal match; stop when, over the
last ``window`` proposals, fewer than ``stop_rate`` of them were kept (the space left unfilled is
then about that fraction of the proposals' distribution, checked after every proposal). Half the proposals are uniform in the chirp times (tau0, tau3)
at ``f_lower`` over the component masses in ``mass_range``: near-flat coordinates of the
inspiral's match, so light systems, whose long inspirals make templates narrow, are proposed as
often as they need templates; the other half come from the injections' prior, which reaches the
heavy, merger-dominated corner that the chirp times sample thinly. Aligned spins are uniform in
``spin_range``. (Version 1 of this rule drew 2,000
proposals from the prior alone, with no stopping rule, and left light systems under-covered;
``summary.json``'s ``previous_bank`` records by how much.) The
**effectualness** of the bank on an injection is the best match any template finds; its
distribution over fresh injections is what the bank is judged by.

Matches here are taken over what the search filters: each waveform's central segment
(``segment_seconds``, the merger ``TEMPLATE_TAIL_SECONDS`` before its end), zero-padded to twice
its length so that time shifts do not wrap. Real searches filter whole waveforms and place banks
with whole-waveform matches; this book's detectors see 2 s, and a bank placed with matches over
up to 4.4 s of inspiral needs several times the templates for light systems, to separate parts of
their inspirals that no detector here sees. The SNR the search loses to the bank's spacing is
typically less than one minus the effectualness: injections merge 1.1-1.7 s into their segment,
templates 1.9 s, so the search sees less of an injection's inspiral than these matches do.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from lora_teach.files import atomic_write
from lora_teach.gw.cache import cache_root
from lora_teach.gw.config import GWConfig
from lora_teach.gw.noise import band_mask, psd_curve
from lora_teach.gw.signals import place_fft, polarisations, trim_and_taper
from lora_teach.gw.simulation import crop

__all__ = [
    "INTRINSIC",
    "TemplateBank",
    "TEMPLATE_FIELDS",
    "template_key",
    "check_bank_fits",
    "template_fft",
    "whitened_template",
    "match",
    "segment_spectrum",
    "build_bank",
    "effectualness",
    "effectualness_report",
    "STOP_RATE",
    "STOP_WINDOW",
    "default_bank",
    "bank_cache_path",
    "recorded_bank",
]

INTRINSIC = ("mass1", "mass2", "spin1z", "spin2z")
# The GWConfig fields that shape a template or the prior it is placed over; the rest (SNRs,
# distances, glitches, PSD jitter, detectors, merger window) leave the bank as it is.
TEMPLATE_FIELDS = (
    "sample_rate",
    "segment_seconds",
    "noise_seconds",
    "psd",
    "approximant",
    "f_lower",
    "f_upper",
    "mass_range",
    "spin_range",
)
FORMAT = 2  # bump when the placement rule or the template convention changes
STOP_RATE, STOP_WINDOW = 0.002, 1000  # stop when < 2 of the last 1000 proposals were kept
MAX_PROPOSALS = 50_000
MSUN_SECONDS = 4.925490947641267e-6  # G M_sun / c^3
TEMPLATE_TAIL_SECONDS = 0.1  # the template's merger sits this long before the end of its segment


@dataclass(frozen=True)
class TemplateBank:
    """The bank's intrinsic parameters, one array of length ``len(bank)`` per name in INTRINSIC."""

    config: GWConfig
    params: dict[str, np.ndarray]
    minimal_match: float
    n_proposals: int  # drawn before the stopping rule held
    seed: int

    def __len__(self) -> int:
        return len(self.params["mass1"])

    def templates(self) -> np.ndarray:
        """Whitened templates, ``(len(bank), n_freq)`` complex, on the noise buffer's rfft grid."""
        return np.stack(
            [
                whitened_template(self.config, *(self.params[k][i] for k in INTRINSIC))
                for i in range(len(self))
            ]
        )


def template_fft(
    config: GWConfig, mass1: float, mass2: float, spin1z: float, spin2z: float
) -> np.ndarray:
    """rfft over the noise buffer of the face-on h+ (at 100 Mpc, in strain), its merger
    TEMPLATE_TAIL_SECONDS before the end of the central segment."""
    p = {
        "mass1": [mass1],
        "mass2": [mass2],
        "spin1z": [spin1z],
        "spin2z": [spin2z],
        "distance_mpc": [100.0],
        "inclination": [0.0],
        "phase": [0.0],
    }
    hp, hc, t0 = polarisations(config, p, 0)
    fs = config.sample_rate
    start = (config.n_noise - config.n_segment) // 2
    merger = start + config.n_segment - TEMPLATE_TAIL_SECONDS * fs
    hp, _, keep_before = trim_and_taper(hp, hc, t0, merger, fs)
    return place_fft(hp, t0, keep_before, merger, 0.0, config)


def whitened_template(
    config: GWConfig, mass1: float, mass2: float, spin1z: float, spin2z: float
) -> np.ndarray:
    """:func:`template_fft` divided by the noise amplitude sqrt(S(f)), zero outside the band."""
    h = template_fft(config, mass1, mass2, spin1z, spin2z)
    freqs, psd = psd_curve(config)
    band = band_mask(config, freqs, psd)
    out = np.zeros_like(h)
    out[band] = h[band] / np.sqrt(psd[band])
    return out


def segment_spectrum(config: GWConfig, whitened: np.ndarray) -> np.ndarray:
    """What the search filters of whitened rffts ``(..., n_noise // 2 + 1)``: the central segment,
    zero-padded to twice its length, as an rfft up to ``f_upper`` (the rest is zero)."""
    series = crop(config, np.fft.irfft(whitened, n=config.n_noise, axis=-1))
    top = int(config.f_upper * 2 * config.n_segment / config.sample_rate) + 1
    return np.fft.rfft(series, n=2 * config.n_segment, axis=-1)[..., :top]


def match(a, b, n_time: int | None = None) -> np.ndarray:
    """Match (maximised over time and phase) of whitened rffts ``a`` (..., n_freq) with ``b`` (m, n_freq).

    Returns ``(..., m)``. Only the leading bins up to the band's upper edge may be non-zero;
    ``n_time`` sets the inverse FFT's length (default: the power of two >= 2 n_freq, a time step
    of about 1 ms for this book's data), in single precision.
    """
    a = torch.as_tensor(np.asarray(a)).to(torch.complex64)
    b = torch.as_tensor(np.asarray(b)).to(torch.complex64)
    norm_a = a.abs().square().sum(-1).sqrt()
    norm_b = b.abs().square().sum(-1).sqrt()
    n_time = n_time or 1 << (2 * a.shape[-1] - 1).bit_length()
    overlap = torch.fft.ifft(a.unsqueeze(-2) * b.conj(), n=n_time) * n_time
    best = overlap.abs().amax(-1) / (norm_a.unsqueeze(-1) * norm_b)
    return best.double().numpy()


def chirp_times(mass1, mass2, f_lower: float) -> tuple[np.ndarray, np.ndarray]:
    """The Newtonian and 1.5PN chirp times (tau0, tau3) in seconds of masses in solar masses."""
    total = (np.asarray(mass1) + np.asarray(mass2)) * MSUN_SECONDS
    eta = np.asarray(mass1) * np.asarray(mass2) * MSUN_SECONDS**2 / total**2
    x = np.pi * total * f_lower
    return 5 / (256 * np.pi * f_lower * eta) * x ** (-5 / 3), 1 / (8 * f_lower * eta) * x ** (
        -2 / 3
    )


def masses_from_chirp_times(tau0, tau3, f_lower: float) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`chirp_times`: (mass1 >= mass2) in solar masses, NaN where no pair exists."""
    total = 5 * np.asarray(tau3) / (32 * np.pi**2 * f_lower * np.asarray(tau0))
    eta = 1 / (8 * f_lower * np.asarray(tau3)) * (np.pi * total * f_lower) ** (-2 / 3)
    eta = np.where(eta - 0.25 < 1e-9, np.minimum(eta, 0.25), eta)  # equal masses, rounded
    with np.errstate(invalid="ignore"):
        root = np.sqrt(1 - 4 * eta)  # NaN where eta > 1/4: no real pair
    return total * (1 + root) / 2 / MSUN_SECONDS, total * (1 - root) / 2 / MSUN_SECONDS


def _chirp_time_masses(config: GWConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` mass pairs (n, 2), uniform in (tau0, tau3) over the component masses in
    ``mass_range`` (by rejection from the chirp times' bounding box)."""
    low, high = config.mass_range
    grid = np.linspace(low, high, 64)
    box = chirp_times(*np.meshgrid(grid, grid), config.f_lower)
    pairs = np.empty((0, 2))
    while len(pairs) < n:
        tau0 = rng.uniform(box[0].min(), box[0].max(), 4 * n)
        tau3 = rng.uniform(box[1].min(), box[1].max(), 4 * n)
        m1, m2 = masses_from_chirp_times(tau0, tau3, config.f_lower)
        inside = (m2 >= low) & (m1 <= high)  # False where NaN
        pairs = np.r_[pairs, np.c_[m1[inside], m2[inside]]]
    return pairs[:n]


def _proposals(config: GWConfig, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``n`` proposals: each, with probability 1/2, uniform in the chirp times (dense where
    templates are narrow), else from the injections' prior (uniform component masses, which
    reaches the heavy corner the chirp times sample thinly); spins uniform in ``spin_range``."""
    from_prior = np.sort(rng.uniform(*config.mass_range, size=(n, 2)), axis=1)[:, ::-1]
    pairs = np.where(rng.random(n)[:, None] < 0.5, _chirp_time_masses(config, n, rng), from_prior)
    return {
        "mass1": pairs[:, 0],
        "mass2": pairs[:, 1],
        "spin1z": rng.uniform(*config.spin_range, n),
        "spin2z": rng.uniform(*config.spin_range, n),
    }


def build_bank(
    config: GWConfig,
    minimal_match: float = 0.95,
    stop_rate: float = STOP_RATE,
    window: int = STOP_WINDOW,
    max_proposals: int = MAX_PROPOSALS,
    seed: int = 0,
    progress: bool = False,
) -> TemplateBank:
    """Stochastic placement: keep each proposal that no kept template matches to
    ``minimal_match`` or better, until fewer than ``stop_rate`` of the last ``window`` proposals
    were kept (or ``max_proposals`` were drawn, with a warning)."""
    if not 0.0 < minimal_match < 1.0:
        raise ValueError(f"minimal_match must be in (0, 1), got {minimal_match}")
    if not 0.0 < stop_rate < 1.0:
        raise ValueError(f"stop_rate must be in (0, 1), got {stop_rate}")
    for name, value in (("window", window), ("max_proposals", max_proposals)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    config.check_lal_names()
    draws = _proposals(config, max_proposals, np.random.default_rng(seed))
    kept, templates = [], []
    bar = tqdm(desc="template bank", disable=not progress, leave=False)
    for i in range(max_proposals):
        h = segment_spectrum(config, whitened_template(config, *(draws[k][i] for k in INTRINSIC)))
        if not templates or match(h, np.stack(templates)).max() < minimal_match:
            kept.append(i)
            templates.append(h)
        bar.update()
        recent = np.searchsorted(kept, i + 1 - window)  # kept before the window
        if i + 1 >= window and len(kept) - recent < stop_rate * window:
            break
    else:
        warnings.warn(
            f"template bank: still accepting after {max_proposals} proposals", stacklevel=2
        )
    bar.close()
    params = {k: draws[k][kept] for k in INTRINSIC}
    return TemplateBank(config, params, minimal_match, i + 1, seed)


def effectualness(bank: TemplateBank, params: dict[str, np.ndarray]) -> np.ndarray:
    """For each injection in ``params`` (arrays keyed by INTRINSIC), the best match in ``bank``,
    over the segment the search filters (:func:`segment_spectrum`)."""
    if len(bank) == 0:
        raise ValueError("the template bank is empty")
    config = bank.config
    templates = segment_spectrum(config, bank.templates())
    best = []
    for i in range(len(params["mass1"])):  # one at a time: (bank, time) fits in memory
        h = segment_spectrum(config, whitened_template(config, *(params[k][i] for k in INTRINSIC)))
        best.append(match(h, templates).max())
    return np.array(best)


TOTAL_MASS_BINS = (20.0, 40.0, 60.0, 80.0, 100.0)


def effectualness_report(
    best: np.ndarray,
    params: dict[str, np.ndarray],
    minimal_match: float,
    bins: tuple[float, ...] = TOTAL_MASS_BINS,
) -> dict:
    """Summary of effectualness ``best`` on injections ``params``: quantiles, the fraction below
    ``minimal_match``, and both per bin of total mass (``bins`` edges, in solar masses, which must
    hold every injection)."""
    best = np.asarray(best, dtype=float)
    total = np.asarray(params["mass1"]) + np.asarray(params["mass2"])
    if best.shape != total.shape:
        raise ValueError(f"best {best.shape} and params {total.shape} must be one per injection")
    if total.min() < bins[0] or total.max() > bins[-1]:
        raise ValueError(
            f"total masses {total.min():.1f}-{total.max():.1f} reach outside the bins {bins}"
        )

    def summary(values: np.ndarray) -> dict:
        return {
            "injections": len(values),
            "median": float(np.median(values)),
            "p1": float(np.percentile(values, 1)),
            "p5": float(np.percentile(values, 5)),
            "min": float(values.min()),
            "below_minimal_match": float(np.mean(values < minimal_match)),
        }

    by_mass = []
    for low, high in zip(bins[:-1], bins[1:]):
        inside = (total >= low) & ((total < high) | (high == bins[-1]))
        if inside.any():
            by_mass.append({"total_mass": [low, high]} | summary(best[inside]))
    return summary(best) | {"by_total_mass": by_mass}


def segment_templates(bank: TemplateBank) -> np.ndarray:
    """The bank's whitened templates as real time series cropped to the segment: (len(bank), n_segment)."""
    config = bank.config
    return crop(config, np.fft.irfft(bank.templates(), n=config.n_noise, axis=-1))


def template_key(config: GWConfig) -> dict:
    """The fields of ``config`` that a bank depends on."""
    return {name: getattr(config, name) for name in TEMPLATE_FIELDS}


def check_bank_fits(bank: TemplateBank, config: GWConfig) -> None:
    """Raise ValueError, naming the fields, unless ``bank`` was built for data like ``config``'s."""
    ours, theirs = template_key(bank.config), template_key(config)
    differ = [
        f"{k} {ours[k]!r} (bank) vs {theirs[k]!r} (data)" for k in ours if ours[k] != theirs[k]
    ]
    if differ:
        raise ValueError("the template bank was built for other data: " + "; ".join(differ))


def bank_cache_path(
    config: GWConfig,
    minimal_match: float = 0.95,
    stop_rate: float = STOP_RATE,
    window: int = STOP_WINDOW,
    seed: int = 0,
    root: Path | None = None,
) -> Path:
    """Where :func:`default_bank` caches the bank it builds with these settings (and
    :func:`build_bank`'s default ``max_proposals``, on which the proposals drawn depend)."""
    settings = {
        "minimal_match": minimal_match,
        "stop_rate": stop_rate,
        "window": window,
        "seed": seed,
        "max_proposals": MAX_PROPOSALS,
    }
    key = json.dumps([FORMAT, template_key(config), settings])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Path(root or cache_root()) / f"bank-{digest}.npz"


def default_bank(
    config: GWConfig,
    minimal_match: float = 0.95,
    stop_rate: float = STOP_RATE,
    window: int = STOP_WINDOW,
    seed: int = 0,
    root: Path | None = None,
    progress: bool = False,
) -> TemplateBank:
    """:func:`build_bank`, cached under the data cache (a few minutes to build on 2 cores,
    milliseconds to load), keyed by the fields in TEMPLATE_FIELDS and the placement settings."""
    path = bank_cache_path(config, minimal_match, stop_rate, window, seed, root)
    if path.is_file():
        try:
            with np.load(path) as f:
                params = {k: f[k] for k in INTRINSIC}
                drawn = int(f["n_proposals"])
            return TemplateBank(config, params, minimal_match, drawn, seed)
        except Exception as err:  # a damaged cache file is rebuilt, not fatal
            warnings.warn(
                f"rebuilding the template bank: {path} is unreadable ({err})", stacklevel=2
            )
    bank = build_bank(config, minimal_match, stop_rate, window, seed=seed, progress=progress)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, n_proposals=bank.n_proposals, **bank.params)

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, write)
    return bank


def recorded_bank(config: GWConfig, summary: dict) -> TemplateBank:
    """The bank a recording searched with, from its summary (``summary["bank"]``, as
    ``scripts/record_detection.py`` writes it): no rebuilding. Raises ValueError, naming the fields,
    unless it was placed for data like ``config``'s."""
    recorded = summary.get("bank", {})
    fields = ("template_fields", "params", "minimal_match", "n_proposals", "seed")
    absent = [f for f in fields if f not in recorded]
    if absent:
        raise ValueError(f"the summary's bank entry lacks {absent}: not a record_detection summary")
    ours = json.loads(json.dumps(template_key(config)))  # tuples as JSON lists
    differ = [
        f"{k} {recorded['template_fields'].get(k)!r} (recorded) vs {v!r} (data)"
        for k, v in ours.items()
        if recorded["template_fields"].get(k) != v
    ]
    if differ:
        raise ValueError(
            "the recorded template bank was built for other data: " + "; ".join(differ)
        )
    params = {k: np.asarray(recorded["params"][k], dtype=float) for k in INTRINSIC}
    return TemplateBank(
        config, params, recorded["minimal_match"], recorded["n_proposals"], recorded["seed"]
    )
