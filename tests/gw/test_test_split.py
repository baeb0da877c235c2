"""The held-out detection set: SNRs on the grid, disjoint streams, a background whose small
versions are prefixes of the large one, caching, and bad input."""

import numpy as np
import pytest

from lora_teach.gw import test_split as detection_set
from lora_teach.gw.config import GWConfig
from lora_teach.gw.signals import draw_params
from lora_teach.gw.simulation import generate_dataset
from lora_teach.gw.test_split import background, background_chunks, injections

CFG = GWConfig()


@pytest.fixture(autouse=True)
def _small_chunks(tmp_path, monkeypatch):
    monkeypatch.setenv("LORA_TEACH_DATA_CACHE", str(tmp_path))
    monkeypatch.setattr(detection_set, "BACKGROUND_CHUNK", 4)


def test_injections_sit_on_the_snr_grid_and_are_cached(tmp_path, monkeypatch):
    inj = injections(CFG, snrs=(5.0, 9.0), per_snr=3, seed=0)
    assert inj.label.tolist() == [1] * 6
    np.testing.assert_allclose(inj.snr, [5, 5, 5, 9, 9, 9], rtol=1e-6)
    assert len(list(tmp_path.glob("*test-injections*.npz"))) == 1

    def no_simulation(*args, **kwargs):
        raise AssertionError("simulated again instead of reading the cache")

    with monkeypatch.context() as patch:
        patch.setattr(detection_set, "simulate_many", no_simulation)
        again = injections(CFG, snrs=(5.0, 9.0), per_snr=3, seed=0)
    np.testing.assert_array_equal(inj.strain, again.strain)
    assert not np.array_equal(inj.strain, injections(CFG, (5.0, 9.0), 3, seed=1).strain)


def test_background_is_noise_from_its_own_stream_and_grows_by_prefix():
    small, large = background(CFG, 3), background(CFG, 10)
    assert len(small) == 3 and len(large) == 10 and large.label.sum() == 0
    assert np.all(large.snr == 0)
    np.testing.assert_array_equal(small.strain, large.strain[:3])
    streamed = np.concatenate([c.strain for c in background_chunks(CFG, 10, cache=False)])
    np.testing.assert_array_equal(streamed, large.strain)
    for split in ("train", "val", "sample"):  # no stream shared with generate_dataset's splits
        other = generate_dataset(CFG, 8, seed=0, split=split, progress=False)
        assert not np.isin(large.strain[:, 0, 0], other.strain[:, 0, 0]).any()
        inj = injections(CFG, snrs=(5.0,), per_snr=8, seed=0)
        assert not np.isin(inj.params["mass1"], other.params["mass1"]).any()


def test_injections_are_the_stream_the_records_were_scored_on():
    inj = injections(CFG, snrs=(5.0,), per_snr=3, seed=0)
    rng = np.random.default_rng(np.random.SeedSequence([0, 2]))  # [seed, SPLITS["test"]]
    assert np.array_equal(inj.params["mass1"], draw_params(CFG, 3, rng)["mass1"])
    assert not np.isin(inj.strain[:, 0, 0], background(CFG, 8).strain[:, 0, 0]).any()
    with pytest.raises(ValueError, match="got 'test' \\(the held-out test split is"):
        generate_dataset(CFG, 8, seed=0, split="test", progress=False)


def test_bad_input_names_the_value():
    with pytest.raises(ValueError, match="per_snr must be an int >= 1, got 0"):
        injections(CFG, per_snr=0)
    with pytest.raises(ValueError, match=r"snrs must be .* got \[-1.0\]"):
        injections(CFG, snrs=(-1.0,), per_snr=1)
    with pytest.raises(ValueError, match="n must be an int >= 1, got 2.5"):
        background(CFG, 2.5)
