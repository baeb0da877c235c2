"""TrainConfig: one config, validated once; profiles; the flat record the sweep cache compares."""

import dataclasses

import pytest

from lora_teach.train.config import TrainConfig, upgrade_record
from lora_teach.train.environment import check_environment
from lora_teach.train.profiles import DEFAULT_HEAD, PROFILES


def test_defaults_are_the_cpu_profile():
    assert TrainConfig() == TrainConfig.from_profile("cpu")
    assert TrainConfig().epochs == PROFILES["cpu"]["epochs"] and TrainConfig().head == DEFAULT_HEAD


def test_from_profile_applies_overrides_and_names_unknown_fields():
    config = TrainConfig.from_profile("full", strategy="full_finetune", epochs=3)
    assert (config.n_train, config.epochs, config.profile, config.strategy) == (
        1000,
        3,
        "full",
        "full_finetune",
    )
    with pytest.raises(
        ValueError, match=r"profile must be one of \['cpu', 'full', 'gpu', 'scale'\], got 'fast'"
    ):
        TrainConfig.from_profile("fast")
    with pytest.raises(TypeError, match=r"unknown TrainConfig field\(s\) \['epoch'\]"):
        TrainConfig.from_profile("cpu", epoch=3)
    with pytest.raises(TypeError, match="give the profile as from_profile's first argument"):
        TrainConfig.from_profile("cpu", profile="full")


def test_records_written_before_the_precision_field_read_back():
    old = TrainConfig().record() | {"bf16": True}
    del old["precision"]
    assert TrainConfig.from_record(old).precision == "bf16"
    assert TrainConfig.from_record(old | {"bf16": False}).precision == "fp32"
    assert (
        TrainConfig.from_record(TrainConfig(strategy="full_finetune").record()).strategy
        == "full_finetune"
    )
    with pytest.raises(ValueError, match=r"fields TrainConfig does not have: \['colour'\]"):
        TrainConfig.from_record(TrainConfig().record() | {"colour": "red"})


def test_records_that_call_the_strategy_model_read_back():
    old = TrainConfig(strategy="frozen_encoder").record()
    old["model"] = old.pop("strategy")
    assert TrainConfig.from_record(old).strategy == "frozen_encoder"
    assert upgrade_record(old) == TrainConfig(strategy="frozen_encoder").record()


def test_a_gpu_record_reads_back_on_a_machine_without_cuda():
    record = TrainConfig.from_profile("gpu", whisper="not-a-model", precision="bf16").record()
    config = TrainConfig.from_record(record)  # the machine is checked where a run starts
    assert config.device == "cuda" and config.whisper == "not-a-model"
    with pytest.raises(ValueError, match="whisper must be a Whisper model name"):
        check_environment(config)


def test_records_written_before_a_field_existed_read_back_as_its_default():
    old = TrainConfig().record()
    for name in (
        "epoch_samples",
        "max_minutes",
        "init",
        "rslora",
        "dora",
        "lora_plus_ratio",
        "snr_curriculum",
    ):
        del old[name]
    assert TrainConfig.from_record(old).record() == TrainConfig().record()


def test_record_is_flat_with_the_learning_rate_resolved():
    record = TrainConfig(strategy="full_finetune").record()
    assert record["lr"] == 3e-5 and record["strategy"] == "full_finetune"
    assert set(record) == {f.name for f in dataclasses.fields(TrainConfig)}


@pytest.mark.parametrize(
    "change, message",
    [
        (
            dict(strategy="adapter"),
            "strategy must be one of ('full_finetune', 'frozen_encoder', 'lora', 'cnn'), got 'adapter'",
        ),
        (dict(targets=("q", "qkv")), "targets must be a non-empty list from"),
        (dict(targets=()), "targets must be a non-empty list from"),
        (dict(head=(256, 0)), "head must be a non-empty tuple of positive ints"),
        (
            dict(representation="raw"),
            "representation must be one of ('compressed', 'resampled', 'strain'), got 'raw'",
        ),
        (dict(batch_size=0), "batch_size must be an int >= 1, got 0"),
        (dict(patience=0), "patience must be an int >= 1, got 0"),
        (dict(max_steps=1.5), "max_steps must be an int >= 1, got 1.5"),
        (dict(weight_decay=-0.1), "weight_decay must be a number in [0, 1), got -0.1"),
        (dict(weight_decay=False), "weight_decay must be a number in [0, 1), got False"),
        (
            dict(precision="fp8"),
            "precision must be one of ('auto', 'fp32', 'bf16', 'fp16'), got 'fp8'",
        ),
        (dict(device="mps"), "device must be a CPU or CUDA device, got 'mps'"),
        (dict(snr_range=(5.0,)), "snr_range must be (min, max)"),
        (dict(epoch_samples=0), "epoch_samples must be an int >= 1, got 0"),
        (dict(init="orthogonal"), "init must be one of ('kaiming', 'gaussian', 'pissa')"),
        (dict(dora=True, init="pissa"), "dora=True is supported with dropout 0 and a kaiming"),
        (
            dict(lora_plus_ratio=0.0),
            "lora_plus_ratio (lr_B / lr_A) must be a positive number, got 0.0",
        ),
        (dict(max_minutes=-1.0), "max_minutes must be a positive number, got -1.0"),
        (dict(max_minutes="1h"), "max_minutes must be a positive number, got '1h'"),
        (
            dict(snr_curriculum=(20.0,)),
            "snr_curriculum must hold SNRs within snr_range (5.0, 15.0), got (20.0,)",
        ),
        (dict(snr_curriculum=("loud",)), "snr_curriculum must hold SNRs within snr_range"),
        (
            dict(snr_curriculum=(8.0, 11.0)),
            "snr_curriculum must not rise (loud first), got (8.0, 11.0)",
        ),
        (dict(snr_curriculum=(11.0, 8.0)), "snr_curriculum (11.0, 8.0) needs epoch_samples"),
        (dict(schedule="linear"), "schedule must be one of ('constant', 'cosine'), got 'linear'"),
        (dict(representation="strain", pad_to_30s=True), "representation='strain' has none"),
        (dict(pretrained=False), "strategy must be 'full_finetune', got 'lora'"),
    ],
)
def test_every_field_is_validated_with_the_value_named(change, message):
    with pytest.raises(ValueError) as error:
        TrainConfig(**change)
    assert message in str(error.value)


def test_tuples_given_as_lists_are_stored_as_tuples():
    config = TrainConfig(targets=["q", "v"], head=[64], blocks=[0, 2], snr_range=[5, 8])
    assert (config.targets, config.head, config.blocks) == (("q", "v"), (64,), (0, 2))
    assert config.snr_range == (5.0, 8.0) and all(isinstance(s, float) for s in config.snr_range)
