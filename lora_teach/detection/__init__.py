"""Scoring detectors: metrics, the band-power baseline, the template bank, the matched filter, the summary of a detector's scores, known-signal oracles.

Re-exports only; the package's own modules import from the defining module."""

from lora_teach.detection import band_power, matched_filter, metrics, report, template_bank
from lora_teach.detection.band_power import *  # noqa: F403
from lora_teach.detection.matched_filter import *  # noqa: F403
from lora_teach.detection.metrics import *  # noqa: F403
from lora_teach.detection.report import *  # noqa: F403
from lora_teach.detection.template_bank import *  # noqa: F403

__all__ = [
    *band_power.__all__,
    *matched_filter.__all__,
    *metrics.__all__,
    *report.__all__,
    *template_bank.__all__,
]
