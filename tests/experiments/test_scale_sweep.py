"""The scale sweep: its points, the committed record's freshness, a changed point named."""

import copy
import dataclasses
import json

import pytest

from lora_teach._paths import RESULTS
from lora_teach.experiments.grid import StaleRecordError
from lora_teach.experiments.scale_sweep import (
    check_scale_fresh,
    point_scores,
    scale_stale_points,
    scale_sweep_configs,
    score_keys,
)
from lora_teach.experiments.sweep import point_id


def test_scale_points_share_the_budget_and_qv_spends_what_qkv_mlp_does():
    from lora_teach.train.classifier import build_classifier
    from lora_teach.whisper.load import load_whisper

    configs = list(scale_sweep_configs().values())
    assert len({point_id(c) for c in configs}) == len(configs) == 9
    # the last two are the reference at other seeds, identical to it but for the seed
    for other in configs[-2:]:
        assert dataclasses.replace(other, seed=0) == configs[0] and other.seed != 0
    assert {(c.epochs, c.epoch_samples, c.n_train, c.profile) for c in configs} == {
        (4, 8000, 40000, "scale")
    }
    encoder = load_whisper("tiny.en", device="cpu").encoder

    def lora_params(config):
        model = build_classifier(copy.deepcopy(encoder), config)
        return sum(p.numel() for n, p in model.named_parameters() if "lora_" in n)

    qv = next(c for c in configs if c.targets == ("q", "v"))
    assert lora_params(qv) == lora_params(configs[0])  # r = 32 on q,v; r = 8 on q,k,v,mlp


def test_committed_scale_sweep_is_fresh_and_a_changed_point_is_named():
    path = RESULTS / "detection/tiny.en/sweep/points.json"
    record = json.loads(path.read_text())
    check_scale_fresh(record)
    broken = copy.deepcopy(record)
    changed = next(iter(broken["points"]))
    broken["points"][changed]["config"]["epochs"] = 5
    assert scale_stale_points(broken) == [changed]
    with pytest.raises(StaleRecordError, match=f"{changed}.* python scripts/record_scale.py"):
        check_scale_fresh(broken)


def test_point_scores_read_the_keys_the_recorder_writes():
    point = "lora r=8 alpha=8 q,k,v,mlp seed=0"
    assert score_keys(point) == (
        "lora_r8_alpha8_q-k-v-mlp_seed0.noise",
        "lora_r8_alpha8_q-k-v-mlp_seed0.signal",
    )
    scores = dict(zip(score_keys(point), ("noise", "signal")))
    assert point_scores(scores, point) == ("noise", "signal")
