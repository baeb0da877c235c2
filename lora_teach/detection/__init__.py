"""Scoring detectors: metrics, the band-power baseline, the template bank, the matched filter, detector records.

Re-exports only; the package's own modules import from the defining module."""

from lora_teach.detection.band_power import band_power_score
from lora_teach.detection.matched_filter import (
    COINCIDENCE_MARGIN_S,
    light_travel_time,
    search,
    snr_series,
)
from lora_teach.detection.metrics import (
    auc_standard_error,
    ceiling_efficiency,
    efficiency,
    efficiency_curve,
    false_alarms_per_month,
    paired_auc_difference,
    sensitive_snr,
    threshold_at_fap,
)
from lora_teach.detection.report import FAPS, SNR_BINS, detection_summary
from lora_teach.detection.template_bank import (
    INTRINSIC,
    TEMPLATE_FIELDS,
    TemplateBank,
    build_bank,
    check_bank_fits,
    default_bank,
    effectualness,
    match,
    template_fft,
    template_key,
    whitened_template,
)

__all__ = [
    "INTRINSIC",
    "auc_standard_error",
    "paired_auc_difference",
    "threshold_at_fap",
    "efficiency",
    "efficiency_curve",
    "sensitive_snr",
    "ceiling_efficiency",
    "false_alarms_per_month",
    "band_power_score",
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
    "search",
    "snr_series",
    "light_travel_time",
    "COINCIDENCE_MARGIN_S",
    "FAPS",
    "SNR_BINS",
    "detection_summary",
]
