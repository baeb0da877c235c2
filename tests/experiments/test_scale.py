"""The scale records: run names, the configs they train, scores written as float32."""

import json

import numpy as np

from lora_teach._paths import RESULTS
from lora_teach.experiments.scale import run_name, save_scores, scale_config
from lora_teach.train.config import TrainConfig


def test_a_recorded_strategy_is_the_config_the_code_builds():
    for name in ("lora", "full_finetune", "frozen_encoder"):
        record = json.loads((RESULTS / "detection" / "tiny.en" / f"{name}.json").read_text())
        recorded = TrainConfig.from_record(record["config"])
        built = scale_config(name, "tiny.en", recorded.max_minutes, "compressed")
        assert run_name(built) == name == record["strategy"]
        assert built.record() == recorded.record()
    resampled = scale_config("lora", "tiny.en", 10.0, "resampled")
    assert run_name(resampled) == "lora-resampled"


def test_scores_are_saved_as_float32_and_read_back(tmp_path):
    path = tmp_path / "x-scores.npz"
    save_scores(path, np.array([0.5, 1.5]), np.array([2.0]))
    with np.load(path) as saved:
        assert saved["noise"].dtype == np.float32 and saved["signal"].tolist() == [2.0]
