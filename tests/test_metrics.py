"""The Hanley-McNeil standard error agrees with a bootstrap of the same AUC."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from lora_teach.metrics import auc_standard_error


def test_standard_error_matches_a_bootstrap():
    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(200), np.zeros(200)]
    scores = np.r_[rng.normal(1.2, 1, 200), rng.normal(0, 1, 200)]
    auc = roc_auc_score(labels, scores)
    boot = []
    for _ in range(2000):
        pos = rng.integers(0, 200, 200)
        neg = rng.integers(200, 400, 200)
        idx = np.r_[pos, neg]
        boot.append(roc_auc_score(labels[idx], scores[idx]))
    assert auc_standard_error(auc, 200, 200) == pytest.approx(np.std(boot), rel=0.1)


def test_perfect_and_bad_inputs():
    assert auc_standard_error(1.0, 10, 10) == 0.0
    with pytest.raises(ValueError, match="auc must be in"):
        auc_standard_error(1.2, 10, 10)
    with pytest.raises(ValueError, match="n_pos=0"):
        auc_standard_error(0.8, 0, 10)
