"""From whitened strain to the log-mel image: shapes and per-sample normalisation."""

import numpy as np
import pytest

from lora_teach.gw.config import GWConfig
from lora_teach.gw.simulation import generate_dataset
from lora_teach.train.features import log_mel_batch, n_frames

CFG = GWConfig()


def test_log_mel_shapes_and_per_sample_normalisation():
    ds = generate_dataset(CFG, 4, seed=0, progress=False)
    mel = log_mel_batch(ds.strain)
    assert mel.shape == (4, 2, 80, 26) == (4, 2, 80, n_frames(4096, 2048, "compressed"))
    scaled = ds.strain.copy()
    # per-sample normalisation: one sample's scale leaves the others' features alone
    scaled[0] *= 10
    assert np.allclose(log_mel_batch(scaled)[1:].numpy(), mel[1:].numpy())
    assert log_mel_batch(ds.strain[:1], representation="resampled").shape == (1, 2, 80, 200)
    with pytest.raises(ValueError, match="representation must be one of"):
        log_mel_batch(ds.strain, representation="raw")
