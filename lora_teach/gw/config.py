"""What one gravitational-wave data set is: detectors, noise, signal population, whitening band.

Values are checked in plain Python when a config is made; lal's names (detectors, PSD,
approximant) are looked up when the physics runs (``check_lal_names``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from lora_teach.gw.lal import import_lal

__all__ = ["GWConfig", "SPLITS", "O3_GPS"]

# O3: 2019-04-01 to 2020-03-27 in GPS seconds.
O3_GPS = (1238166018.0, 1269363618.0)
SPLITS = {"train": 0, "val": 1, "test": 2, "sample": 3}


@dataclass(frozen=True)
class GWConfig:
    """Everything that defines a data set. Changing any field changes the cache key.

    Harder variants (all off by default): ``glitch_prob`` adds a sine-Gaussian glitch to each
    detector with that probability in both classes; ``psd_jitter`` scales each sample's true PSD by
    exp(N(0, psd_jitter)) per detector, while whitening still uses the nominal PSD unless
    ``estimate_psd`` is set, which whitens with a Welch estimate from the sample itself.
    """

    sample_rate: int = 2048
    segment_seconds: float = 2.0
    noise_seconds: float = 8.0
    detectors: tuple[str, ...] = ("H1", "L1")
    psd: str = "aLIGOO3LowT1800545"
    approximant: str = "IMRPhenomD"
    f_lower: float = 20.0
    f_upper: float = 500.0
    mass_range: tuple[float, float] = (10.0, 50.0)
    spin_range: tuple[float, float] = (-0.5, 0.5)
    distance_range_mpc: tuple[float, float] = (100.0, 2000.0)
    snr_range: tuple[float, float] = (5.0, 15.0)
    merger_window: tuple[float, float] = (0.55, 0.85)
    gps_range: tuple[float, float] = O3_GPS
    glitch_prob: float = 0.0
    psd_jitter: float = 0.0
    estimate_psd: bool = False

    def __post_init__(self):
        # Ranges only, in plain Python: lal's names are looked up when the physics runs (check_lal_names).
        def pair(name, lo, hi, unit=""):
            a, b = getattr(self, name)
            if not (lo <= a <= b <= hi):
                raise ValueError(
                    f"{name} must satisfy {lo} <= min <= max <= {hi}{unit}, got {getattr(self, name)}"
                )

        pair("mass_range", 1.0, 200.0, " solar masses")
        pair("spin_range", -0.99, 0.99)
        pair("distance_range_mpc", 1.0, 1e5, " Mpc")
        pair("snr_range", 0.0, 1000.0)
        pair("merger_window", 0.0, 1.0, " (fractions of the segment)")
        pair("gps_range", 0.0, 2e10)
        if not self.detectors or not all(isinstance(d, str) for d in self.detectors):
            raise ValueError(
                f"detectors must be a non-empty tuple of names such as 'H1', got {self.detectors!r}"
            )
        if not (0 < self.f_lower < self.f_upper):
            raise ValueError(
                f"need 0 < f_lower < f_upper, got f_lower={self.f_lower}, f_upper={self.f_upper}"
            )
        if self.sample_rate < 2 * self.f_upper:
            raise ValueError(
                f"sample_rate {self.sample_rate} Hz is below twice the band's upper edge f_upper={self.f_upper} Hz"
            )
        if self.segment_seconds < 0.25:
            raise ValueError(f"segment_seconds must be >= 0.25 s, got {self.segment_seconds}")
        if self.noise_seconds < self.segment_seconds + 4.0:
            raise ValueError(
                f"noise_seconds must leave >= 2 s on each side of the segment for the waveform and whitening "
                f"filter: need >= {self.segment_seconds + 4.0}, got {self.noise_seconds}"
            )
        if not (0.0 <= self.glitch_prob <= 1.0) or self.psd_jitter < 0:
            raise ValueError(
                f"glitch_prob must be in [0, 1] and psd_jitter >= 0, got {self.glitch_prob}, {self.psd_jitter}"
            )

    def check_lal_names(self) -> None:
        """Raise ValueError unless lal knows the detectors, the PSD and the approximant."""
        lal, lalsimulation = import_lal()
        unknown = [d for d in self.detectors if d not in lal.cached_detector_by_prefix]
        if unknown:
            raise ValueError(
                f"unknown detector(s) {unknown}; known: {sorted(lal.cached_detector_by_prefix)}"
            )
        if not hasattr(lalsimulation, "SimNoisePSD" + self.psd):
            names = dir(lalsimulation)
            known = sorted(
                n[len("SimNoisePSD") :]
                for n in names
                if n.startswith("SimNoisePSDaLIGO") and not n.endswith("Ptr")
            )
            raise ValueError(f"unknown PSD {self.psd!r}; lalsimulation has e.g. {known[:8]}")
        if not hasattr(lalsimulation, self.approximant):
            raise ValueError(f"unknown approximant {self.approximant!r}")

    @property
    def n_noise(self) -> int:
        return int(round(self.noise_seconds * self.sample_rate))

    @property
    def n_segment(self) -> int:
        return int(round(self.segment_seconds * self.sample_rate))

    def key(self) -> str:
        return hashlib.sha256(
            json.dumps(dataclasses.asdict(self), sort_keys=True).encode()
        ).hexdigest()[:16]
