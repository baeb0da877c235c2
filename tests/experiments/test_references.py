"""The reference detectors' records follow from the committed scores."""

import json

import pytest

from lora_teach._paths import RESULTS
from lora_teach.experiments import references


@pytest.mark.slow  # 23 s: the bootstrap over 100,000 windows
def test_reference_records_are_what_the_committed_scores_give(tmp_path, monkeypatch):
    (tmp_path / "scores.npz").write_bytes((RESULTS / "detection" / "scores.npz").read_bytes())
    monkeypatch.setattr(references, "DETECTION", tmp_path)
    records = references.record_references(background=20_000)
    for name, record in records.items():
        committed = json.loads((RESULTS / "detection" / f"{name}.json").read_text())
        assert record["test"] == committed["test"], name
        assert record["threshold_fap1e-3"] == committed["threshold_fap1e-3"]
        assert json.loads((tmp_path / f"{name}.json").read_text())["test"] == committed["test"]
