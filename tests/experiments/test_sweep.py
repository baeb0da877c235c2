"""The sweep cache: the committed one is fresh, staleness is caught and named, only stale points re-train."""

import copy
import dataclasses
import json

import pytest

from lora_teach.experiments import sweep
from lora_teach.experiments.sweep import (
    StaleSweepError,
    check_fresh,
    default_path,
    load_sweep,
    spot_check,
    sweep_configs,
)
from lora_teach.train.config import TrainConfig


def test_committed_cpu_sweep_is_fresh():
    check_fresh(load_sweep(default_path("cpu")), "cpu")


def test_sweep_points_cover_the_grid_and_are_unique():
    configs = sweep_configs("cpu")
    assert len(configs) == len(set(configs))
    grid = {
        (c.rank, c.alpha)
        for c in configs.values()
        if c.strategy == "lora" and c.targets == ("q", "k", "v", "mlp") and c.seed == 0
    }
    assert grid == {(r, float(a)) for r in sweep.RANKS for a in sweep.ALPHAS}
    assert {c.strategy for c in configs.values()} == {"lora", "full_finetune", "frozen_encoder"}


@pytest.mark.slow
def test_equal_budget_ranks_spend_about_the_budget_of_qv_at_rank_8():
    from lora_teach.train.classifier import build_classifier
    from lora_teach.whisper.load import load_whisper

    def lora_params(targets, rank):
        config = TrainConfig(strategy="lora", rank=rank, targets=targets)
        model = build_classifier(load_whisper("tiny.en", device="cpu").encoder, config)
        return sum(p.numel() for n, p in model.named_parameters() if "lora_" in n)

    budget = lora_params(("q", "v"), 8)
    for name, rank in sweep.EQUAL_BUDGET_RANKS.items():
        assert abs(lora_params(sweep.TARGET_SETS[name], rank) / budget - 1) <= 0.125, name


def test_missing_or_changed_points_are_named(tmp_path):
    cache = load_sweep(default_path("cpu"))
    broken = copy.deepcopy(cache)
    missing = next(iter(broken["runs"]))
    del broken["runs"][missing]
    changed = "frozen_encoder seed=0"
    broken["runs"][changed]["config"]["lr"] = 0.5
    with pytest.raises(StaleSweepError, match="2 of 69 points") as err:
        check_fresh(broken, "cpu")
    assert (
        missing in str(err.value)
        and changed in str(err.value)
        and "python -m lora_teach.experiments.sweep --profile cpu" in str(err.value)
    )


def test_spot_check_compares_a_retrained_auc(monkeypatch):
    cache = load_sweep(default_path("cpu"))
    point = "lora r=8 alpha=8 q,k,v,mlp seed=0"
    cached = cache["runs"][point]["best_val_auc"]
    monkeypatch.setattr(sweep, "train", lambda config, data, progress: {"best_val_auc": cached})
    assert spot_check(cache, [point], data=object()) == {point: (cached, cached)}
    monkeypatch.setattr(
        sweep, "train", lambda config, data, progress: {"best_val_auc": cached - 0.01}
    )
    with pytest.raises(StaleSweepError, match="does not reproduce"):
        spot_check(cache, [point], data=object())
    with pytest.raises(ValueError, match="not points of the 'cpu' sweep"):
        spot_check(cache, ["lora r=3 alpha=8 q seed=0"], data=object())


def _fake_results(config):
    return {
        "best_val_auc": 0.5 + config.rank / 100,
        "best_epoch": 1,
        "history": {"val_auc": [0.5]},
        "parameters": {"trainable": config.rank, "total": 100},
        "mean_epoch_seconds": 1.0,
        "git_commit": None,
        "device": "CPU",
        "val_labels": [0, 1],
        "val_snr": [0.0, 5.0],
    }


def test_run_sweep_trains_only_what_the_cache_lacks(tmp_path, monkeypatch):
    points = {
        f"lora r={r}": TrainConfig(strategy="lora", rank=r, n_train=4, n_val=4) for r in (1, 2)
    }
    monkeypatch.setattr(sweep, "sweep_configs", lambda profile="cpu": dict(points))
    monkeypatch.setattr(sweep, "prepare_data", lambda config, progress: None)
    trained = []
    monkeypatch.setattr(
        sweep,
        "train",
        lambda config, data, progress: trained.append(config.rank) or _fake_results(config),
    )
    path = tmp_path / "sweep.json"

    sweep.run_sweep("cpu", path, progress=False)
    assert trained == [1, 2]
    check_fresh(load_sweep(path), "cpu")
    sweep.run_sweep("cpu", path, progress=False)
    assert trained == [1, 2]  # nothing stale: nothing trained
    points["lora r=2"] = dataclasses.replace(points["lora r=2"], alpha=16.0)
    with pytest.raises(StaleSweepError, match="lora r=2"):
        check_fresh(load_sweep(path), "cpu")
    sweep.run_sweep("cpu", path, progress=False)
    assert trained == [1, 2, 2]
    assert json.loads(path.read_text())["runs"]["lora r=2"]["config"]["alpha"] == 16.0


def test_cli_check(tmp_path, capsys):
    assert sweep.main(["--check"]) == 0
    assert "fresh" in capsys.readouterr().out
    assert sweep.main(["--check", "--out", str(tmp_path / "none.json")]) == 2
    assert "no sweep cache at" in capsys.readouterr().err
    (tmp_path / "other.json").write_text(json.dumps({"format": "something else"}))
    assert sweep.main(["--check", "--out", str(tmp_path / "other.json")]) == 2
    assert "is not a sweep cache" in capsys.readouterr().err
