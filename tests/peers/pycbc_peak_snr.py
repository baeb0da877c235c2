"""Run in .venv-pycbc: PyCBC's matched filter on data and a template from an .npz file.

python tests/peers/pycbc_peak_snr.py in.npz  ->  prints {"peak_snr": ..., "sigma": ...} as JSON
The .npz holds data and template (time series, same length), psd (one-sided, on the rfft grid of
that length), sample_rate, f_lower and f_upper.
"""

import json
import sys

import numpy as np
from pycbc.filter import matched_filter, sigma
from pycbc.types import FrequencySeries, TimeSeries

with np.load(sys.argv[1]) as f:
    fs = float(f["sample_rate"])
    data = TimeSeries(f["data"], delta_t=1 / fs)
    template = TimeSeries(f["template"], delta_t=1 / fs)
    psd = FrequencySeries(f["psd"], delta_f=fs / len(f["data"]))
    f_lower, f_upper = float(f["f_lower"]), float(f["f_upper"])
snr = matched_filter(
    template, data, psd=psd, low_frequency_cutoff=f_lower, high_frequency_cutoff=f_upper
)
norm = sigma(template, psd=psd, low_frequency_cutoff=f_lower, high_frequency_cutoff=f_upper)
print(json.dumps({"peak_snr": float(abs(snr).max()), "sigma": float(norm)}))
