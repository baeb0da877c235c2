"""The matched-filter search: its statistics in noise, the analytic optimum, the bank's placement
rule, coincidence, PyCBC's matched filter as a peer, and bad input."""

import json
import math
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from lora_teach._paths import REPO
from lora_teach.detection.matched_filter import search, snr_series
from lora_teach.detection.template_bank import (
    INTRINSIC,
    TEMPLATE_TAIL_SECONDS,
    TemplateBank,
    _proposals,
    build_bank,
    chirp_times,
    effectualness,
    effectualness_report,
    masses_from_chirp_times,
    match,
    recorded_bank,
    segment_templates,
    template_fft,
    template_key,
    whitened_template,
)
from lora_teach.gw.config import GWConfig
from lora_teach.gw.noise import band_mask, psd_curve
from lora_teach.gw.signals import draw_params
from lora_teach.gw.simulation import crop, simulate

CFG = GWConfig()
ROOT = REPO
KEEP = float(
    band_mask(CFG, *psd_curve(CFG)).sum() / (len(psd_curve(CFG)[0]) - 1)
)  # fraction of the spectrum in band


def one_event(mass1=40.0, mass2=35.0, spin1z=0.2, spin2z=-0.1, merger_time=1.5, snr=12.0, seed=1):
    params = draw_params(CFG, 1, np.random.default_rng(seed))
    for key, value in dict(
        mass1=mass1,
        mass2=mass2,
        spin1z=spin1z,
        spin2z=spin2z,
        merger_time=merger_time,
        target_snr=snr,
    ).items():
        params[key][:] = value
    return params


def bank_of(params) -> TemplateBank:
    """A bank holding exactly the templates of the events in ``params``."""
    return TemplateBank(CFG, {k: np.asarray(params[k], float) for k in INTRINSIC}, 0.95, 1, 0)


def test_noise_gives_a_chi_squared_with_two_degrees_of_freedom():
    rng = np.random.default_rng(0)
    noise = np.stack([crop(CFG, simulate(CFG, {}, 0, False, rng)["whitened"]) for _ in range(24)])
    params = draw_params(CFG, 3, np.random.default_rng(5))
    bank = bank_of(params)
    power = np.concatenate(
        [snr_series(sample, CFG, k, bank)[1] ** 2 for sample in noise for k in range(3)]
    )
    # |z|^2 ~ chi2(2): mean 2, P(|z|^2 > 6) = exp(-3). Neighbouring shifts are correlated, so the
    # tolerance is set by the ~24 x 3 x 2 x (2 s x ~200 Hz) effectively independent values.
    assert power.mean() == pytest.approx(2.0, rel=0.05)
    assert np.mean(power > 6.0) == pytest.approx(math.exp(-3), rel=0.25)


def test_template_equal_to_the_signal_in_zero_noise_returns_the_optimal_snr():
    params = one_event()
    sample = simulate(CFG, params, 0, True, np.random.default_rng(2))
    signal = crop(CFG, sample["whitened_signal"])
    expected = np.linalg.norm(signal, axis=-1) * math.sqrt(KEEP)  # optimal SNR in the segment
    _, z = snr_series(signal, CFG, 0, bank_of(params))
    np.testing.assert_allclose(z.max(axis=1), expected, rtol=1e-2)
    # the network statistic combines both detectors' peaks (they are within 10 ms + margin)
    network = search(signal[None], CFG, bank_of(params), step=1)[0]
    assert network == pytest.approx(np.sqrt(np.sum(expected**2)), rel=1e-2)
    assert network == pytest.approx(12.0, rel=0.03)  # the crop keeps nearly all of this SNR


def test_coincidence_rejects_peaks_further_apart_than_the_light_travel_time():
    params = one_event(snr=20.0)
    signal = crop(CFG, simulate(CFG, params, 0, True, np.random.default_rng(2))["whitened_signal"])
    bank = bank_of(params)
    together = search(signal[None], CFG, bank, step=1)[0]
    apart = signal.copy()
    apart[1] = np.roll(signal[1], int(0.2 * CFG.sample_rate))  # L1 200 ms late
    _, z = snr_series(signal, CFG, 0, bank)
    single = z.max(axis=1)
    assert together == pytest.approx(np.sqrt(np.sum(single**2)), rel=1e-2)
    # 200 ms apart: only the louder detector's peak counts (plus the other's weak sidelobe there)
    assert search(apart[None], CFG, bank, step=1)[0] == pytest.approx(single.max(), rel=0.03)


@pytest.mark.parametrize("lag_ms, coincident", [(14.0, True), (20.0, False)])
def test_coincidence_window_is_the_light_travel_time_plus_the_margin(lag_ms, coincident):
    """The same template in both detectors, L1 lagging H1: within 10.0 + 5 ms the network SNR is
    sqrt(2) x one detector's; beyond, it falls towards one detector's alone."""
    params = one_event(14.0, 11.0)  # a long chirp: its SNR peak is narrow in time
    bank = bank_of(params)
    template = segment_templates(bank)[0]
    fs = CFG.sample_rate
    early = round((1.9 - 1.4) * fs)  # move the merger from 1.9 s to 1.4 s, inside the window
    h1 = np.r_[template[early:], np.zeros(early)]
    l1 = np.roll(h1, round(lag_ms / 1000 * fs))
    strain = np.stack([h1, l1]) * 8.0 / (np.linalg.norm(h1) * math.sqrt(KEEP))  # SNR 8 each
    network = search(strain[None], CFG, bank, step=1)[0]
    if coincident:
        assert network == pytest.approx(8.0 * math.sqrt(2), rel=0.02)
    else:
        assert network < 0.9 * 8.0 * math.sqrt(2)


def test_match_is_one_for_itself_and_invariant_to_time_and_phase():
    h = whitened_template(CFG, 30.0, 20.0, 0.1, -0.2)
    freqs = np.fft.rfftfreq(CFG.n_noise, 1 / CFG.sample_rate)
    moved = h * np.exp(-2j * np.pi * freqs * 0.0123) * np.exp(1j * 0.7)  # 12.3 ms later, rotated
    other = whitened_template(CFG, 45.0, 12.0, -0.4, 0.4)
    m = match(h, np.stack([h, moved, other]))
    assert m[0] == pytest.approx(1.0, abs=1e-5)
    assert m[1] == pytest.approx(1.0, abs=2e-3)  # the time grid is 1 ms
    assert m[2] < 0.9
    assert match(other, h[None])[0] == pytest.approx(m[2], abs=1e-5)  # symmetric


def test_stochastic_placement_covers_every_proposal_it_saw_and_stops_by_its_rule():
    narrow = GWConfig(mass_range=(25.0, 35.0), spin_range=(0.0, 0.2))
    bank = build_bank(
        narrow, minimal_match=0.95, stop_rate=0.1, window=20, max_proposals=300, seed=3
    )
    assert 1 < len(bank) < bank.n_proposals < 300  # the stopping rule ended it
    drawn = _proposals(narrow, 300, np.random.default_rng(3))  # what build_bank drew
    seen = {k: v[: bank.n_proposals] for k, v in drawn.items()}
    assert effectualness(bank, seen).min() >= 0.95 - 1e-6
    assert effectualness(bank, bank.params) == pytest.approx(np.ones(len(bank)), abs=1e-5)
    # kept in the last window: fewer than stop_rate * window; and not so one proposal earlier
    position = {float(m): i for i, m in enumerate(seen["mass1"])}
    kept = np.array(sorted(position[float(m)] for m in bank.params["mass1"]))
    last = bank.n_proposals
    assert np.sum(kept >= last - 20) < 0.1 * 20 <= np.sum((kept >= last - 21) & (kept < last - 1))


def test_placement_that_never_settles_warns():
    with pytest.warns(UserWarning, match="still accepting after 5 proposals"):
        bank = build_bank(CFG, stop_rate=0.01, window=5, max_proposals=5)
    assert bank.n_proposals == 5


def test_chirp_times_invert_and_proposals_stay_in_the_prior():
    m1, m2 = np.array([36.0, 10.0, 50.0]), np.array([29.0, 10.0, 12.0])
    tau0, tau3 = chirp_times(m1, m2, 20.0)
    chirp_mass = (m1 * m2) ** 0.6 / (m1 + m2) ** 0.2 * 4.925490947641267e-6  # seconds
    newtonian = 5 / 256 * (np.pi * 20.0) ** (-8 / 3) * chirp_mass ** (-5 / 3)
    assert tau0 == pytest.approx(newtonian, rel=1e-9)  # tau0 depends on the chirp mass alone
    back = masses_from_chirp_times(tau0, tau3, 20.0)
    assert np.allclose(back[0], m1) and np.allclose(back[1], m2)  # equal masses included
    p = _proposals(CFG, 4000, np.random.default_rng(0))
    assert (p["mass1"] >= p["mass2"]).all()
    assert p["mass2"].min() >= 10.0 and p["mass1"].max() <= 50.0
    light = np.mean(p["mass1"] + p["mass2"] < 40)
    assert light > 2 * 0.125  # the prior puts 1/8 there; the chirp-time half puts far more


def test_recorded_bank_loads_what_the_recording_searched_with():
    with pytest.warns(UserWarning, match="still accepting"):
        bank = build_bank(CFG, max_proposals=3, window=3)
    summary = {
        "bank": {
            "template_fields": json.loads(json.dumps(template_key(CFG))),
            "params": {k: v.tolist() for k, v in bank.params.items()},
            "minimal_match": 0.95,
            "n_proposals": 3,
            "seed": 0,
        }
    }
    loaded = recorded_bank(CFG, summary)
    assert np.array_equal(loaded.templates(), bank.templates())
    with pytest.raises(ValueError, match=r"other data: f_lower 20.0 \(recorded\) vs 25.0"):
        recorded_bank(GWConfig(f_lower=25.0), summary)
    with pytest.raises(ValueError, match=r"lacks \['params'\]: not a record_detection summary"):
        recorded_bank(CFG, {"bank": {k: v for k, v in summary["bank"].items() if k != "params"}})
    committed = json.loads((ROOT / "data/results/detection/summary.json").read_text())
    assert len(recorded_bank(CFG, committed)) == committed["bank"]["size"]


def test_effectualness_report_bins_by_total_mass():
    best = np.array([0.90, 0.99, 0.97, 0.96])
    params = {"mass1": np.array([10.0, 30, 45, 12]), "mass2": np.array([10.0, 20, 40, 11])}
    report = effectualness_report(best, params, 0.95)
    assert report["below_minimal_match"] == 0.25 and report["min"] == 0.90
    bins = {tuple(b["total_mass"]): b for b in report["by_total_mass"]}
    assert bins[(20.0, 40.0)]["injections"] == 2
    assert bins[(20.0, 40.0)]["below_minimal_match"] == 0.5
    assert (60.0, 80.0) not in bins  # empty bins are left out
    with pytest.raises(
        ValueError, match=r"total masses 20.0-85.0 reach outside the bins \(20.0, 40.0\)"
    ):
        effectualness_report(best, params, 0.95, bins=(20.0, 40.0))
    with pytest.raises(ValueError, match="one per injection"):
        effectualness_report(best[:2], params, 0.95)


def pycbc_python() -> Path | None:
    path = Path(os.environ.get("LORA_TEACH_PYCBC_PYTHON", ROOT / ".venv-pycbc" / "bin" / "python"))
    if path.is_file():
        return path
    if os.environ.get("LORA_TEACH_REQUIRE_PYCBC") == "1":
        pytest.fail(f"PyCBC's environment is missing at {path}: run scripts/setup_pycbc.sh")
    pytest.skip("PyCBC's environment (.venv-pycbc, scripts/setup_pycbc.sh) is not installed")


def pycbc_peak_snr(python: Path, data: np.ndarray, template: np.ndarray, path: Path) -> float:
    _, psd = psd_curve(CFG)
    np.savez(
        path,
        data=data,
        template=template,
        psd=np.array(psd),
        sample_rate=CFG.sample_rate,
        f_lower=CFG.f_lower,
        f_upper=CFG.f_upper,
    )
    peer = ROOT / "tests" / "peers" / "pycbc_peak_snr.py"
    out = subprocess.run([str(python), str(peer), str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)["peak_snr"]


@pytest.mark.slow
@pytest.mark.parametrize("masses", [(40.0, 35.0), (14.0, 11.0)])
def test_peak_snr_agrees_with_pycbc_on_the_same_coloured_data(tmp_path, masses):
    """PyCBC filters the whole 8 s of coloured strain with the template cut where our segment
    starts (the merger is 1.6 s into the segment); with the whole template it finds the SNR the
    crop loses, which for the lighter, longer signal is a few per cent. PyCBC cuts the template
    before whitening, we after, so the two differ slightly at the cut by construction; 1% bounds it."""
    python = pycbc_python()
    merger_time = 1.6
    params = one_event(*masses, merger_time=merger_time)
    sample = simulate(CFG, params, 0, True, np.random.default_rng(4))
    _, ours = snr_series(crop(CFG, sample["whitened"]), CFG, 0, bank_of(params))
    template = np.fft.irfft(template_fft(CFG, *(params[k][0] for k in INTRINSIC)), n=CFG.n_noise)
    start = (CFG.n_noise - CFG.n_segment) // 2  # the template's merger sits 0.1 s before the end
    merger = start + CFG.n_segment - round(TEMPLATE_TAIL_SECONDS * CFG.sample_rate)
    cut = merger - round(merger_time * CFG.sample_rate)
    seen = np.where(np.arange(CFG.n_noise) >= cut, template, 0.0)
    for d in range(len(CFG.detectors)):
        strain = sample["strain"][d]
        theirs = pycbc_peak_snr(python, strain, seen, tmp_path / "seen.npz")
        assert ours[d].max() == pytest.approx(theirs, rel=1e-2), (masses, d)
        whole = pycbc_peak_snr(python, strain, template, tmp_path / "whole.npz")
        assert ours[d].max() <= whole * 1.005


def test_bad_input_names_the_problem():
    bank = bank_of(one_event())
    with pytest.raises(
        ValueError, match=r"strain must be \(n, 2 detectors, 4096 samples\).*\(3, 4096\)"
    ):
        search(np.zeros((3, 4096)), CFG, bank)
    empty = TemplateBank(CFG, {k: np.zeros(0) for k in INTRINSIC}, 0.95, 1, 0)
    with pytest.raises(ValueError, match="bank is empty"):
        search(np.zeros((1, 2, 4096)), CFG, empty)
    with pytest.raises(
        ValueError, match=r"other data: mass_range \(10.0, 50.0\) \(bank\) vs \(5.0, 50.0\)"
    ):
        search(np.zeros((1, 2, 4096)), GWConfig(mass_range=(5.0, 50.0)), bank)
    search(np.zeros((1, 2, 4096)), GWConfig(snr_range=(8.0, 9.0)), bank)  # SNRs: same bank
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        search(np.zeros((1, 2, 4096)), CFG, bank, batch_size=0)
    with pytest.raises(ValueError, match=r"step must be one of \[1, 2, 4\].*got 3"):
        search(np.zeros((1, 2, 4096)), CFG, bank, step=3)
    with pytest.raises(ValueError, match="template must be in"):
        snr_series(np.zeros((2, 4096)), CFG, 5, bank)
    with pytest.raises(ValueError, match="minimal_match must be in"):
        build_bank(CFG, minimal_match=1.5)
    with pytest.raises(ValueError, match="stop_rate must be in"):
        build_bank(CFG, stop_rate=0.0)
    with pytest.raises(ValueError, match="window must be a positive int, got 0"):
        build_bank(CFG, window=0)
    with pytest.raises(ValueError, match="empty"):
        effectualness(empty, one_event())
