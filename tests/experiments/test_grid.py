"""What the recorded grids share: stored configs, staleness named, retrained numbers compared."""

import pytest

from lora_teach.experiments.grid import (
    StaleRecordError,
    check_ids,
    compare_retrained,
    raise_if_stale,
    stale_ids,
    stored_config,
)
from lora_teach.train.config import TrainConfig


def test_a_record_that_calls_the_strategy_model_is_fresh():
    configs = {"a": TrainConfig(rank=4), "b": TrainConfig(strategy="frozen_encoder")}
    recorded = {pid: {"config": stored_config(c)} for pid, c in configs.items()}
    old = dict(recorded["b"]["config"])
    old["model"] = old.pop("strategy")
    assert stale_ids(recorded | {"b": {"config": old}}, configs) == []
    changed = {"config": stored_config(TrainConfig(rank=2))}
    assert stale_ids({"a": changed}, configs) == ["a", "b"]


def test_stale_points_are_named_with_the_command_that_regenerates_them():
    raise_if_stale([], 3, "x cache", "make x")
    with pytest.raises(
        StaleRecordError, match=r"2 of 9 points .*\(p, q\); regenerate with: make x"
    ):
        raise_if_stale(["p", "q"], 9, "x cache", "make x")
    many = [str(i) for i in range(7)]
    with pytest.raises(StaleRecordError, match="0, 1, 2, 3, 4 and 2 more"):
        raise_if_stale(many, 9, "x cache", "make x")


def test_unknown_ids_and_retrained_numbers_that_differ_are_refused():
    with pytest.raises(ValueError, match=r"not points of the grid: \['z'\]"):
        check_ids(["a", "z"], {"a": 1}, "the grid")
    same = {"a": (0.9, 0.9004)}
    assert compare_retrained(same, 1e-3, "make x", StaleRecordError) == same
    with pytest.raises(StaleRecordError, match=r"\{'a': \(0.9, 0.91\)\}.*make x --force"):
        compare_retrained({"a": (0.9, 0.91)}, 1e-3, "make x", StaleRecordError)
