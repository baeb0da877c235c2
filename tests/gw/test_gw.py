"""The simulated GW data: physics checks, determinism, balance, cache, and bad input."""

import dataclasses
import math

import numpy as np
import pytest

from lora_teach._paths import DATA
from lora_teach.gw.cache import load_dataset, load_or_generate
from lora_teach.gw.config import GWConfig
from lora_teach.gw.noise import band_mask, psd_curve
from lora_teach.gw.signals import antenna_response, draw_params
from lora_teach.gw.simulation import crop, generate_dataset, simulate

CFG = GWConfig()


def test_whitened_noise_has_unit_variance_in_every_band():
    freqs, psd = psd_curve(CFG)
    band = band_mask(CFG, freqs, psd)
    rng = np.random.default_rng(0)
    powers = []
    for _ in range(20):
        sample = simulate(CFG, {}, 0, False, rng)
        spectrum = np.abs(np.fft.rfft(sample["whitened"], axis=-1)) ** 2 / CFG.n_noise
        powers.append(spectrum)
    mean = np.mean(powers, axis=(0, 1))
    keep = band.sum() / (len(band) - 1)
    edges = np.arange(CFG.f_lower, CFG.f_upper, 40.0)
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_band = (freqs >= lo) & (freqs < hi)
        # each rfft bin of a unit-variance series has E|X|^2 / N = 1; band-limiting rescales by 1/keep
        assert mean[in_band].mean() * keep == pytest.approx(1.0, rel=0.05), (lo, hi)
    white = np.stack([crop(CFG, simulate(CFG, {}, 0, False, rng)["whitened"]) for _ in range(20)])
    assert white.std() == pytest.approx(1.0, rel=0.02)


def test_injected_optimal_snr_equals_the_target():
    ds_cfg = CFG
    rng = np.random.default_rng(1)
    params = draw_params(ds_cfg, 10, rng)
    freqs, psd = psd_curve(ds_cfg)
    keep = band_mask(ds_cfg, freqs, psd).sum() / (len(freqs) - 1)
    for i in range(10):
        sample = simulate(ds_cfg, params, i, True, rng)
        # independent of the frequency-domain formula: the whitened signal's energy in time is rho^2
        measured = math.sqrt(np.sum(sample["whitened_signal"] ** 2) * keep)
        assert measured == pytest.approx(params["target_snr"][i], rel=0.01)
        # the signal sits where it was placed: peak within 30 ms (detector delays <= 21 ms) of the merger
        start = (ds_cfg.n_noise - ds_cfg.n_segment) // 2
        peak = np.argmax(np.abs(sample["whitened_signal"]).sum(axis=0))
        merger = start + params["merger_time"][i] * ds_cfg.sample_rate
        assert abs(peak - merger) / ds_cfg.sample_rate < 0.03


def test_antenna_patterns_bounded_by_one():
    rng = np.random.default_rng(2)
    for _ in range(200):
        ra, dec, psi, gps = (
            rng.uniform(0, 2 * np.pi),
            np.arcsin(rng.uniform(-1, 1)),
            rng.uniform(0, np.pi),
            rng.uniform(1e9, 1.3e9),
        )
        for det in ("H1", "L1"):
            fp, fc, delay = antenna_response(det, ra, dec, psi, gps)
            assert fp**2 + fc**2 <= 1.0 + 1e-12
            assert abs(delay) < 0.022  # no more than the Earth's radius / c


def test_same_seed_same_bytes_different_seed_or_split_different_data():
    a = generate_dataset(CFG, 8, seed=3, progress=False)
    b = generate_dataset(CFG, 8, seed=3, progress=False)
    assert a.strain.tobytes() == b.strain.tobytes() and np.array_equal(a.label, b.label)
    assert not np.allclose(generate_dataset(CFG, 8, seed=4, progress=False).strain, a.strain)
    assert not np.allclose(
        generate_dataset(CFG, 8, seed=3, split="val", progress=False).strain, a.strain
    )


def test_labels_balanced_and_snr_recorded():
    ds = generate_dataset(CFG, 30, seed=0, progress=False)
    assert ds.label.sum() == 15
    assert np.all(ds.snr[ds.label == 0] == 0)
    lo, hi = CFG.snr_range
    assert np.all((ds.snr[ds.label == 1] >= lo) & (ds.snr[ds.label == 1] <= hi))
    assert ds.h1.shape == ds.l1.shape == (30, 4096) and ds.strain.dtype == np.float32


def test_harder_variants_run_and_change_the_data():
    base = generate_dataset(CFG, 6, seed=0, progress=False)
    for change in (
        dict(glitch_prob=1.0),
        dict(psd_jitter=0.5),
        dict(psd_jitter=0.5, estimate_psd=True),
    ):
        hard = generate_dataset(dataclasses.replace(CFG, **change), 6, seed=0, progress=False)
        assert hard.strain.shape == base.strain.shape and not np.allclose(hard.strain, base.strain)
    estimated = generate_dataset(
        dataclasses.replace(CFG, psd_jitter=0.5, estimate_psd=True), 20, seed=0, progress=False
    )
    assert estimated.strain[estimated.label == 0].std() == pytest.approx(1.0, rel=0.1)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            dict(mass_range=(0.5, 50.0)),
            r"mass_range must satisfy 1.0 <= min <= max <= 200.0 solar masses",
        ),
        (dict(mass_range=(40.0, 20.0)), r"mass_range must satisfy"),
        (dict(snr_range=(-1.0, 5.0)), r"snr_range must satisfy"),
        (dict(distance_range_mpc=(0.0, 10.0)), r"distance_range_mpc must satisfy"),
        (dict(detectors=("H1", "X9")), r"unknown detector\(s\) \['X9'\]"),
        (dict(psd="aLIGOO9"), r"unknown PSD 'aLIGOO9'"),
        (dict(noise_seconds=4.0), r"noise_seconds must leave >= 2 s"),
        (
            dict(sample_rate=512),
            r"sample_rate 512 Hz is below twice the band's upper edge f_upper=500.0",
        ),
    ],
)
def test_bad_config_is_a_clear_error(change, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(CFG, **change).check_lal_names()


def test_config_ranges_are_checked_without_lal():
    import subprocess
    import sys

    check = "import sys; from lora_teach.gw import GWConfig; GWConfig(); assert 'lal' not in sys.modules"
    subprocess.run([sys.executable, "-c", check], check=True)  # validating a config imports no lal
    with pytest.raises(ValueError, match="mass_range must satisfy"):
        GWConfig(mass_range=(40.0, 20.0))
    assert GWConfig(psd="aLIGOO9").psd == "aLIGOO9"  # lal's names are looked up when physics runs


def test_bad_generate_arguments():
    with pytest.raises(ValueError, match="n must be an int >= 2, got 1"):
        generate_dataset(CFG, 1, 0)
    with pytest.raises(ValueError, match="split must be one of"):
        generate_dataset(CFG, 4, 0, split="validation")


def test_cache_round_trip_and_corruption(tmp_path):
    ds = load_or_generate(CFG, 6, 0, "train", root=tmp_path, progress=False)
    (path,) = tmp_path.glob("*.npz")
    again = load_dataset(path)
    assert again.strain.tobytes() == ds.strain.tobytes() and again.config == CFG
    path.write_bytes(path.read_bytes()[:1000])  # truncate
    with pytest.warns(UserWarning, match="regenerating"):
        fresh = load_or_generate(CFG, 6, 0, "train", root=tmp_path, progress=False)
    assert fresh.strain.tobytes() == ds.strain.tobytes()
    assert load_dataset(path).strain.tobytes() == ds.strain.tobytes()


def test_committed_sample_is_what_the_code_generates():
    committed = load_dataset(DATA / "gw_sample.npz")
    regenerated = generate_dataset(
        committed.config, len(committed), seed=0, split="sample", progress=False
    )
    assert committed.strain.tobytes() == regenerated.strain.tobytes()
