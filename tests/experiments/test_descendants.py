"""The comparison of LoRA variants: its points, its cache (fresh, staleness named), the command
line's one-line errors, and the PEFT agreement the chapter quotes."""

import copy
import dataclasses
import json

import pytest
import torch

from lora_teach.experiments import descendants as variants
from lora_teach.experiments.descendants import (
    TEST_SPLIT,
    VARIANTS,
    StaleVariantsError,
    check_fresh,
    load_scores,
    load_variants,
    variant_configs,
)
from lora_teach.train.config import TrainConfig


def test_each_point_is_the_lora_config_changed_only_where_its_variant_says():
    plain = dataclasses.asdict(TrainConfig.from_profile("cpu", strategy="lora", **variants.SIZE))
    points = variant_configs()
    assert len(points) == len(variants.SEEDS) * (len(VARIANTS) + 2 + 4)
    for pid, (name, config) in points.items():
        changed = {k for k, v in dataclasses.asdict(config).items() if v != plain[k]}
        assert changed - {"rank", "alpha", "seed", "lr"} == set(VARIANTS[name]), name
        assert ("lr=" in pid) == (config.lr is not None) and pid.startswith(f"{name} r=")
    lowered = {(name, c.lr) for name, c in points.values() if c.lr is not None}
    assert lowered == {(n, lr) for n in ("PiSSA", "LoRA+") for lr in (3e-4, 1e-4)}
    budgets = {(c.rank, c.alpha) for _, c in points.values()}
    assert budgets == {(8, 8.0), (2, 2.0)}


def test_committed_cache_is_fresh_and_holds_the_test_scores_of_every_point():
    cache = load_variants()
    check_fresh(cache)
    scores = load_scores()
    n_signal = len(scores["snr"])
    assert n_signal == TEST_SPLIT["per_snr"] * 13
    for pid, run in cache["runs"].items():
        assert scores[f"{pid}|noise"].shape == (TEST_SPLIT["background"],)
        assert scores[f"{pid}|signal"].shape == (n_signal,)
        assert run["test"]["background_windows"] == TEST_SPLIT["background"]
    assert set(cache["step_costs"]["costs"]) == {
        f"{name} r={config.rank}" for name, config in variant_configs().values()
    }


def test_a_changed_config_or_test_split_makes_the_cache_stale_by_name():
    cache = load_variants()
    changed = copy.deepcopy(cache)
    changed["runs"]["DoRA r=8 seed=1"]["config"]["lr"] = 5e-4
    with pytest.raises(StaleVariantsError, match=r"1 of 22 points .*DoRA r=8 seed=1"):
        check_fresh(changed)
    missing = copy.deepcopy(cache)
    del missing["runs"]["LoRA+ r=8 seed=0"]
    with pytest.raises(StaleVariantsError, match=r"LoRA\+ r=8 seed=0"):
        check_fresh(missing)
    other_split = copy.deepcopy(cache)
    other_split["test_split"] = {**TEST_SPLIT, "background": 2000}
    with pytest.raises(StaleVariantsError, match="22 of 22 points"):
        check_fresh(other_split)


def test_the_command_line_says_in_one_line_what_is_wrong_with_a_cache(tmp_path, capsys):
    assert variants.main(["--check", "--out", str(tmp_path / "none.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no variants cache at") and err.count("\n") == 1
    wrong = tmp_path / "sweep.json"
    wrong.write_text(json.dumps({"format": "lora_teach.sweep/1"}))
    assert variants.main(["--check", "--out", str(wrong)]) == 2
    assert "is not a variants cache" in capsys.readouterr().err
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps({"format": variants.FORMAT, "test_split": TEST_SPLIT, "runs": {}}))
    assert variants.main(["--check", "--out", str(stale)]) == 2
    assert "22 of 22 points are missing" in capsys.readouterr().err


def test_spot_check_refuses_a_point_the_comparison_does_not_have():
    with pytest.raises(ValueError, match=r"not points of the variants comparison: \['VeRA r=8"):
        variants.spot_check(load_variants(), ["VeRA r=8 seed=0"])


SUFFIXES = ["attn.query", "attn.key", "attn.value", "mlp.0", "mlp.2"]


@pytest.mark.parametrize("variant", ["LoRA", "rsLoRA", "DoRA", "PiSSA"])
def test_every_variant_agrees_with_peft_on_a_whisper_block(variant):
    pytest.importorskip("peft")
    from helpers import tiny_encoder

    from lora_teach.peft_agreement import variant_agreement

    torch.manual_seed(0)
    block = torch.nn.Sequential(tiny_encoder(n_layer=1, n_state=64).blocks[0])
    found = variant_agreement(block, SUFFIXES, torch.randn(2, 10, 64), variant, rank=4, alpha=8)
    assert found["output"] < 1e-5 and found["gradient"] < 1e-5
    assert ("start" in found) == (variant == "PiSSA")
    if variant == "PiSSA":
        assert found["start"] < 1e-5


def test_variant_agreement_sees_a_real_difference():
    """The check can fail: PEFT's rsLoRA against plain LoRA differs by far more than rounding."""
    pytest.importorskip("peft")
    from helpers import tiny_encoder

    from lora_teach import peft_agreement

    torch.manual_seed(0)
    block = torch.nn.Sequential(tiny_encoder(n_layer=1, n_state=64).blocks[0])
    wrong = dict(peft_agreement.PEFT_OPTIONS)
    wrong["LoRA"] = ({}, {"use_rslora": True})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(peft_agreement, "PEFT_OPTIONS", wrong)
        found = peft_agreement.variant_agreement(
            block, SUFFIXES, torch.randn(2, 10, 64), "LoRA", rank=4, alpha=8
        )
    assert found["output"] > 1e-3


def test_lora_plus_groups_agree_with_peft():
    pytest.importorskip("peft")
    from lora_teach.peft_agreement import lora_plus_agreement

    base = torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.Linear(6, 4))
    found = lora_plus_agreement(base, ["0", "1"], lr=1e-3, ratio=16, rank=2)
    assert found["same"] and found["learning_rates"] == pytest.approx([1e-3, 16e-3])
