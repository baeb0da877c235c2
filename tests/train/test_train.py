"""Training: each strategy learns a little and records everything; early stopping, step limits, the
child process, reloading a run, and bad command-line input (one line on stderr, nothing written)."""

import itertools
import json

import pytest
import torch

from lora_teach import lora_layers
from lora_teach.files import write_json_atomic
from lora_teach.train.checkpoint import load_trained
from lora_teach.train.child import TrainingFailed, run_in_child
from lora_teach.train.cli import config_from_args, main
from lora_teach.train.config import TrainConfig
from lora_teach.train.data import prepare_data
from lora_teach.train.evaluation import evaluate
from lora_teach.train.loop import train

REQUIRED = {
    "config",
    "parameters",
    "history",
    "best_epoch",
    "best_val_auc",
    "best_val_loss",
    "mean_epoch_seconds",
    "val_labels",
    "val_snr",
    "val_scores_best",
    "device",
    "versions",
    "git_commit",
    "checkpoint_files",
}
TINY = dict(n_train=16, n_val=16, batch_size=16, snr_range=(20.0, 30.0))


@pytest.fixture(scope="module")
def tiny_data():
    return prepare_data(TrainConfig(**TINY), progress=False)


@pytest.mark.parametrize(
    "model, lr", [("frozen_encoder", 1e-3), ("lora", 1e-3), ("full_finetune", 1e-4)]
)
def test_each_strategy_trains_and_records(tmp_path, tiny_data, model, lr):
    config = TrainConfig(**TINY, strategy=model, epochs=4, lr=lr)
    results = train(config, out=tmp_path, data=tiny_data, progress=False)
    losses = results["history"]["train_loss"]
    assert losses[-1] < losses[0], losses  # one batch seen four times: the loss must fall
    assert REQUIRED <= results.keys()
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["best_val_auc"] == results["best_val_auc"]
    assert on_disk["config"] == json.loads(json.dumps(config.record()))
    assert len(on_disk["history"]["val_auc"]) == 4 and len(on_disk["val_scores_best"]) == 16
    for name in results["checkpoint_files"]:
        assert (tmp_path / name).is_file()
    if model == "lora":
        assert results["checkpoint_files"] == ["best_adapter.safetensors", "best_head.safetensors"]


@pytest.mark.parametrize(
    "variant",
    [dict(dora=True), dict(init="pissa"), dict(lora_plus_ratio=16.0, lr=1e-4), dict(rslora=True)],
)
def test_lora_variants_train_from_the_config_and_reload_exactly(tmp_path, tiny_data, variant):
    config = TrainConfig(**TINY, strategy="lora", epochs=3, **variant)
    results = train(config, out=tmp_path, data=tiny_data, progress=False)
    losses = results["history"]["train_loss"]
    assert losses[-1] < losses[0], losses
    model = load_trained(tmp_path)
    auc, _ = evaluate(model, tiny_data.x_val, tiny_data.y_val, config.batch_size)
    assert auc == results["best_val_auc"]
    layers = list(lora_layers(model).values())
    assert all(
        (layer.dora, layer.init, layer.rslora) == (config.dora, config.init, config.rslora)
        for layer in layers
    )


def test_lora_trains_under_ten_percent_of_full():
    from lora_teach.params import count_parameters
    from lora_teach.train.classifier import build_classifier
    from lora_teach.whisper.load import load_whisper

    counts = {}
    for model in ("full_finetune", "lora"):
        encoder = load_whisper("tiny.en", device="cpu").encoder
        counts[model] = count_parameters(
            build_classifier(encoder, TrainConfig(strategy=model))
        ).trainable
    assert counts["lora"] < 0.10 * counts["full_finetune"]


def test_patience_stops_when_the_auc_stops_improving(tiny_data):
    # A step too small to change any logit: epoch 2 cannot beat epoch 1, so patience 1 stops there.
    config = TrainConfig(**TINY, strategy="frozen_encoder", epochs=6, lr=1e-15, patience=1)
    results = train(config, data=tiny_data, progress=False)
    assert results["epochs_run"] == 2 and results["best_epoch"] == 1


def test_on_epoch_sees_the_model_after_each_epoch_and_its_answers_are_kept(tiny_data):
    seen = []

    def hook(model, epoch):
        seen.append((epoch, model.training, model.head[-1].bias.item()))
        return {"epoch": epoch}

    config = TrainConfig(**TINY, strategy="frozen_encoder", epochs=3, lr=1e-2)
    results = train(config, data=tiny_data, progress=False, on_epoch=hook)
    assert [e for e, _, _ in seen] == [1, 2, 3] and not any(training for _, training, _ in seen)
    assert len({bias for _, _, bias in seen}) == 3  # the weights the hook saw were moving
    assert results["history"]["on_epoch"] == [{"epoch": 1}, {"epoch": 2}, {"epoch": 3}]


@pytest.fixture
def optimiser_steps(monkeypatch):
    """A list that gets one entry per AdamW step taken while the test runs."""
    steps = []
    original = torch.optim.AdamW.step
    monkeypatch.setattr(
        torch.optim.AdamW, "step", lambda self, *a, **k: steps.append(1) or original(self, *a, **k)
    )
    return steps


def test_max_steps_limits_the_batches_of_each_epoch(tiny_data, optimiser_steps):
    steps = optimiser_steps
    config = TrainConfig(
        **(TINY | dict(batch_size=4)), strategy="frozen_encoder", epochs=2, max_steps=1
    )
    train(config, data=tiny_data, progress=False)
    assert len(steps) == 2  # 4 batches an epoch, 1 taken, 2 epochs


def test_shuffled_cover_the_pool_before_repeating_any_sample():
    from lora_teach.train.loop import _shuffled

    orders = _shuffled(10, 4, torch.Generator().manual_seed(0))
    first = [next(orders) for _ in range(5)]  # 20 samples: two whole passes over the pool
    assert all(len(o) == 4 for o in first)
    flat = torch.cat(first)
    assert sorted(flat[:10].tolist()) == list(range(10)) == sorted(flat[10:].tolist())
    whole = _shuffled(10, None, torch.Generator().manual_seed(0))
    assert sorted(next(whole).tolist()) == list(range(10))


def test_epoch_samples_sets_the_samples_each_epoch_and_they_are_counted(tiny_data, optimiser_steps):
    steps = optimiser_steps
    config = TrainConfig(
        **(TINY | dict(batch_size=4)), strategy="frozen_encoder", epochs=3, epoch_samples=8
    )
    results = train(config, data=tiny_data, progress=False)
    assert len(steps) == 6  # 8 samples = 2 batches an epoch, 3 epochs
    assert results["history"]["samples_seen"] == [8, 16, 24] and results["samples_seen"] == 24
    assert results["train_seconds"] == pytest.approx(sum(results["history"]["epoch_seconds"]))


def test_snr_curriculum_epochs_hold_loud_signals_and_half_noise_then_the_pool_as_without_one(
    monkeypatch,
):
    import lora_teach.train.loop as train_module

    # 16 events: the tiny pool's signals lie in SNR (20, 30); floors at 25 and 22 keep the loud ones
    data = prepare_data(TrainConfig(**TINY), progress=False)
    seen = []
    original = train_module._train_epoch
    monkeypatch.setattr(
        train_module,
        "_train_epoch",
        lambda *a, **k: seen.append(a[7].clone()) or original(*a, **k),  # the epoch's order
    )
    common = dict(TINY, strategy="frozen_encoder", epochs=4, epoch_samples=6)
    train(TrainConfig(**common, snr_curriculum=(25.0, 22.0)), data=data, progress=False)
    curriculum, seen[:] = list(seen), []
    train(TrainConfig(**common), data=data, progress=False)
    for order, floor in zip(curriculum[:2], (25.0, 22.0)):
        labels, snr = data.y_train[order], data.snr_train[order]
        assert len(order) == 6 and int(labels.sum()) == 3, order
        assert (snr[labels == 1] >= floor).all(), (snr, floor)
    # after the curriculum, the same stream of samples as the run without one
    assert all(torch.equal(a, b) for a, b in zip(curriculum[2:], seen[:2]))


def test_snr_curriculum_names_a_floor_that_leaves_too_few_signals():
    data = prepare_data(TrainConfig(**TINY), progress=False)
    loud = int((data.snr_train >= 29.0).sum())
    config = TrainConfig(
        **TINY, strategy="frozen_encoder", snr_curriculum=(29.0,), epoch_samples=16
    )
    with pytest.raises(ValueError, match=f"floor 29.0 leaves {loud} training signals"):
        train(config, data=data, progress=False)


def test_max_minutes_stops_after_the_epoch_that_passed_it(tiny_data, monkeypatch):
    import lora_teach.train.loop as train_module

    clock = itertools.count(0, 50)  # every perf_counter call advances 50 s
    monkeypatch.setattr(train_module.time, "perf_counter", lambda: next(clock))
    config = TrainConfig(**TINY, strategy="frozen_encoder", epochs=10, max_minutes=1.0)
    results = train(config, data=tiny_data, progress=False)
    assert results["epochs_run"] == 2  # 50 s after epoch 1, 100 s > 60 s after epoch 2


@pytest.mark.slow
def test_run_in_child_records_its_own_peak_memory(tmp_path):
    results = run_in_child(
        TrainConfig(**TINY, strategy="frozen_encoder", epochs=1), out=tmp_path, progress=False
    )
    assert results["peak_rss_bytes"] > 100 * 2**20  # torch and whisper alone take more than 100 MiB
    assert (
        json.loads((tmp_path / "results.json").read_text())["peak_rss_bytes"]
        == results["peak_rss_bytes"]
    )


@pytest.mark.slow
def test_a_failure_in_the_child_is_one_line_at_the_command_line(tmp_path, capfd, monkeypatch):
    monkeypatch.setenv(
        "LORA_TEACH_OFFLINE", "1"
    )  # whisper small then needs a download it cannot have
    with pytest.raises(TrainingFailed, match="RuntimeError: Whisper 'small' needs the internet"):
        run_in_child(TrainConfig(**TINY, whisper="small", epochs=1), progress=False)
    argv = [
        "--whisper",
        "small",
        "--n-train",
        "16",
        "--n-val",
        "16",
        "--snr-range",
        "20,30",
        "--epochs",
        "1",
    ]
    assert main(argv + ["--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capfd.readouterr().err
    assert "error: RuntimeError: Whisper 'small' needs the internet" in err
    assert "Traceback" not in err and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "lora", "--rank", "0"], "rank must be an int >= 1, got 0"),
        (["--alpha", "-1"], "alpha must be a finite positive number"),
        (
            ["--targets", "q,qkv"],
            "targets must be a non-empty list from ['q', 'k', 'v', 'out', 'mlp']",
        ),
        (["--whisper", "tiny-en"], "whisper must be a Whisper model name"),
        (["--epochs", "0"], "epochs must be an int >= 1, got 0"),
        (["--n-train", "1"], "n_train must be an int >= 2, got 1"),
        (["--lr", "5"], "lr must be a number in (0, 1), got 5.0"),
        (
            ["--snr-range", "20,10"],
            "snr_range must be (min, max) with 0 <= min <= max <= 1000, got (20.0, 10.0)",
        ),
        (["--blocks", "-1"], "blocks must be a non-empty list of block indices >= 0, got [-1]"),
        (
            ["--snr-curriculum", "8,11"],
            "snr_curriculum must not rise (loud first), got (8.0, 11.0)",
        ),
        (["--pooling", "max"], "pooling must be one of ('mean', 'last'), got 'max'"),
        (["--profile", "gpu"], "CUDA is not available"),
        (["--device", "gpu"], "device must be a torch device such as 'cpu' or 'cuda:0', got 'gpu'"),
        (
            ["--model", "adapters"],
            "strategy must be one of ('full_finetune', 'frozen_encoder', 'lora', 'cnn')",
        ),
        (
            ["--strategy", "full_finetune", "--export-transformers", "hf"],
            "--export-transformers ships a LoRA adapter; --strategy full_finetune trains none",
        ),
        (
            ["--representation", "strain", "--export-transformers", "hf"],
            "--export-transformers ships a log-mel adapter; --representation strain reads",
        ),
        (
            ["--strategy", "lora", "--no-pretrained"],
            "pretrained=False (random blocks) trains them in full",
        ),
        (["--schedule", "linear"], "schedule must be one of ('constant', 'cosine')"),
    ],
)
def test_cli_bad_values_fail_before_any_work(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on a machine without a GPU
    assert main(argv + ["--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--head", "256,x"], "--head takes a comma list of int, got '256,x'"),
        (["--blocks", "2,x"], "--blocks takes a comma list of int, got '2,x'"),
    ],
)
def test_cli_unparseable_values_are_rejected_by_argparse(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and err.count("\n") == 1  # no usage block


def test_interrupted_write_leaves_no_file(tmp_path):
    with pytest.raises(TypeError):
        write_json_atomic({"ok": 1, "bad": object()}, tmp_path / "results.json")
    assert list(tmp_path.iterdir()) == []


def test_lora_blocks_restrict_where_lora_goes_and_step_memory_counts_it():
    from whisper.model import AudioEncoder

    from lora_teach import lora_layers
    from lora_teach.train.cost import adaptation_variants, step_memory_bytes

    torch.manual_seed(0)
    variants = adaptation_variants(AudioEncoder(80, 1500, 64, 4, 4))
    upper = sorted({n.split(".")[2] for n in lora_layers(variants["LoRA, blocks 2-3"])})
    assert upper == ["2", "3"]
    h1, l1, y = torch.randn(4, 80, 26), torch.randn(4, 80, 26), torch.tensor([0.0, 1.0, 0.0, 1.0])
    memory = {name: step_memory_bytes(m, h1, l1, y) for name, m in variants.items()}
    order = [
        "full fine-tune",
        "LoRA, all blocks",
        "LoRA, blocks 2-3",
        "LoRA, block 3",
        "frozen encoder",
    ]
    assert [memory[n] for n in order] == sorted(memory.values(), reverse=True)
    # gradients + two AdamW moments: at least three copies of the trainable parameters
    trainable = sum(p.numel() * 4 for p in variants["full fine-tune"].parameters())
    assert memory["full fine-tune"] >= 3 * trainable


@pytest.mark.parametrize("model", ["lora", "full_finetune"])
def test_a_reloaded_run_reproduces_its_recorded_auc(tmp_path, tiny_data, model):
    config = TrainConfig(**(TINY | dict(batch_size=8)), strategy=model, epochs=2, lr=1e-4)
    results = train(config, out=tmp_path, data=tiny_data, progress=False)
    reloaded = load_trained(tmp_path)
    auc, logits = evaluate(reloaded, tiny_data.x_val, tiny_data.y_val, batch_size=config.batch_size)
    assert auc == results["best_val_auc"]
    assert logits.round(5).tolist() == results["val_scores_best"]


def test_a_full_run_is_not_loaded_into_a_model_with_lora(tmp_path, tiny_data):
    train(
        TrainConfig(**TINY, strategy="frozen_encoder", epochs=1),
        out=tmp_path / "frozen",
        data=tiny_data,
        progress=False,
    )
    train(
        TrainConfig(**TINY, strategy="lora", epochs=1),
        out=tmp_path / "lora",
        data=tiny_data,
        progress=False,
    )
    served = load_trained(tmp_path / "lora")
    with pytest.raises(
        ValueError, match="is a frozen_encoder run, but the model to load it into has LoRA layers"
    ):
        load_trained(tmp_path / "frozen", into=served)


def test_load_trained_names_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no results.json"):
        load_trained(tmp_path)
    write_json_atomic({"config": TrainConfig().record()}, tmp_path / "results.json")
    with pytest.raises(
        FileNotFoundError, match=r"lacks \['best_adapter.safetensors', 'best_head.safetensors'\]"
    ):
        load_trained(tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_training_learns_and_scales_fp16_only(tiny_data, precision, monkeypatch):
    # On the CPU, autocast runs both half formats; fp16 goes through the gradient scaler as on a T4.
    import lora_teach.train.loop

    scalers = []
    make = lora_teach.train.loop.grad_scaler
    monkeypatch.setattr(
        lora_teach.train.loop, "grad_scaler", lambda *a: scalers.append(make(*a)) or scalers[-1]
    )
    config = TrainConfig(**TINY, strategy="lora", epochs=3, precision=precision)
    losses = train(config, data=tiny_data, progress=False)["history"]["train_loss"]
    assert losses[-1] < losses[0], losses
    assert [s.is_enabled() for s in scalers] == [precision == "fp16"]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_training_on_a_gpu_records_peak_memory_in_its_precision(tiny_data):
    config = TrainConfig(**TINY, strategy="lora", epochs=2, device="cuda")
    results = train(config, data=tiny_data, progress=False)
    assert results["peak_gpu_memory_bytes"] > 0
    assert results["config"]["precision"] in ("bf16", "fp16")


def test_auto_precision_is_fp32_on_the_cpu_and_recorded_resolved():
    config = TrainConfig()
    assert config.precision == "auto" and config.record()["precision"] == "fp32"


def test_model_is_another_name_for_strategy_on_the_command_line():
    by_model, _ = config_from_args(["--model", "frozen_encoder"])
    by_strategy, _ = config_from_args(["--strategy", "frozen_encoder"])
    assert by_model == by_strategy and by_model.strategy == "frozen_encoder"
