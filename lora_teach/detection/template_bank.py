"""A template bank for the matched-filter search, placed over the injections' own prior.

A template is the face-on IMRPhenomD waveform h+ of one (mass1, mass2, spin1z, spin2z), whitened
with the data's PSD. For the dominant (2,2) mode, which is all IMRPhenomD models, every detector's
signal is such a template up to amplitude, phase and arrival time, so sky position and orientation
need no templates. The **match** of two whitened waveforms a, b is their normalised overlap
maximised over a time shift and a phase,

    match(a, b) = max_t |sum_f a(f) b*(f) exp(2 pi i f t)| / (|a| |b|),

computed with an inverse FFT over the band's positive frequencies (the complex, analytic overlap
whose modulus is the maximum over phase).

**The rule** (stochastic placement, Harry, Allen & Sathyaprakash 2009): draw proposals from the
injections' prior (component masses uniform in ``mass_range``, aligned spins uniform in
``spin_range``); keep a proposal if its match with every template kept so far is below the
minimal match. The **effectualness** of the bank on an injection is the best match any template
finds; its distribution over fresh injections is what the bank is judged by.

Matches here are between whole waveforms (up to 4.4 s of inspiral before the merger, from
``f_lower``), the field's usual definition. The search filters only the 2 s segment, which cuts
off the early inspiral that separates neighbouring templates most, so the SNR the search loses
to the bank's spacing is at most what these matches say.
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
from lora_teach.gw.signals import draw_params, place_fft, polarisations, trim_and_taper
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
    "build_bank",
    "effectualness",
    "default_bank",
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
FORMAT = 1  # bump when the placement rule or the template convention changes
TEMPLATE_TAIL_SECONDS = 0.1  # the template's merger sits this long before the end of its segment


@dataclass(frozen=True)
class TemplateBank:
    """The bank's intrinsic parameters, one array of length ``len(bank)`` per name in INTRINSIC."""

    config: GWConfig
    params: dict[str, np.ndarray]
    minimal_match: float
    n_proposals: int
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


def _band_limit(config: GWConfig) -> int:
    """How many rfft bins of the noise buffer reach ``f_upper`` (the rest are zero)."""
    freqs, psd = psd_curve(config)
    return int(np.flatnonzero(band_mask(config, freqs, psd))[-1]) + 1


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


def _proposals(config: GWConfig, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``n`` draws of the intrinsic parameters from the injections' own prior (``draw_params``)."""
    params = draw_params(config, n, rng)  # masses and spins are its first draws
    return {k: params[k] for k in INTRINSIC}


def build_bank(
    config: GWConfig,
    minimal_match: float = 0.95,
    n_proposals: int = 2000,
    seed: int = 0,
    progress: bool = False,
) -> TemplateBank:
    """Stochastic placement: keep each of ``n_proposals`` draws from the prior that no kept
    template matches to ``minimal_match`` or better."""
    if not 0.0 < minimal_match < 1.0:
        raise ValueError(f"minimal_match must be in (0, 1), got {minimal_match}")
    if isinstance(n_proposals, bool) or not isinstance(n_proposals, int) or n_proposals < 1:
        raise ValueError(f"n_proposals must be a positive int, got {n_proposals!r}")
    config.check_lal_names()
    limit = _band_limit(config)
    draws = _proposals(config, n_proposals, np.random.default_rng(seed))
    kept, templates = [], []
    for i in tqdm(range(n_proposals), desc="template bank", disable=not progress, leave=False):
        h = whitened_template(config, *(draws[k][i] for k in INTRINSIC))[:limit]
        if not templates or match(h, np.stack(templates)).max() < minimal_match:
            kept.append(i)
            templates.append(h)
    params = {k: draws[k][kept] for k in INTRINSIC}
    return TemplateBank(config, params, minimal_match, n_proposals, seed)


def effectualness(bank: TemplateBank, params: dict[str, np.ndarray]) -> np.ndarray:
    """For each injection in ``params`` (arrays keyed by INTRINSIC), the best match in ``bank``."""
    if len(bank) == 0:
        raise ValueError("the template bank is empty")
    limit = _band_limit(bank.config)
    templates = bank.templates()[:, :limit]
    best = []
    for i in range(len(params["mass1"])):  # one at a time: (bank, time) fits in memory
        h = whitened_template(bank.config, *(params[k][i] for k in INTRINSIC))[:limit]
        best.append(match(h, templates).max())
    return np.array(best)


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


def _bank_path(config: GWConfig, minimal_match: float, n_proposals: int, seed: int, root) -> Path:
    key = json.dumps([FORMAT, template_key(config), minimal_match, n_proposals, seed])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Path(root) / f"bank-{digest}.npz"


def default_bank(
    config: GWConfig,
    minimal_match: float = 0.95,
    n_proposals: int = 2000,
    seed: int = 0,
    root: Path | None = None,
    progress: bool = False,
) -> TemplateBank:
    """:func:`build_bank`, cached under the data cache (about 35 s to build on 2 cores, milliseconds
    to load), keyed by the fields in TEMPLATE_FIELDS and the placement settings."""
    path = _bank_path(config, minimal_match, n_proposals, seed, root or cache_root())
    if path.is_file():
        try:
            with np.load(path) as f:
                params = {k: f[k] for k in INTRINSIC}
            return TemplateBank(config, params, minimal_match, n_proposals, seed)
        except Exception as err:  # a damaged cache file is rebuilt, not fatal
            warnings.warn(
                f"rebuilding the template bank: {path} is unreadable ({err})", stacklevel=2
            )
    bank = build_bank(config, minimal_match, n_proposals, seed, progress)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **bank.params)

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, write)
    return bank
