"""Training smoke tests: each strategy learns a little and writes a complete results.json; bad CLI input."""
import json

import pytest

from lora_teach.train import TrainConfig, main, train, write_json_atomic

REQUIRED = {
    "config", "parameters", "history", "best_epoch", "best_val_auc", "best_val_loss", "mean_epoch_seconds",
    "val_labels", "val_snr", "val_scores_best", "device", "versions", "git_commit", "checkpoint_files",
}


@pytest.mark.parametrize("model, lr", [("frozen_encoder", 1e-3), ("lora", 1e-3), ("full_finetune", 1e-4)])
def test_each_strategy_trains_and_records(tmp_path, model, lr):
    config = TrainConfig(model=model, n_train=16, n_val=16, epochs=4, batch_size=16, lr=lr, snr_range=(20.0, 30.0))
    results = train(config, out=tmp_path, progress=False)
    losses = results["history"]["train_loss"]
    assert losses[-1] < losses[0], losses  # one batch seen four times: the loss must fall
    assert REQUIRED <= results.keys()
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["best_val_auc"] == results["best_val_auc"] and 0.0 <= results["best_val_auc"] <= 1.0
    assert len(on_disk["history"]["val_auc"]) == 4 and len(on_disk["val_scores_best"]) == 16
    for name in results["checkpoint_files"]:
        assert (tmp_path / name).is_file()
    if model == "lora":
        assert results["checkpoint_files"] == ["best_adapter.safetensors", "best_head.safetensors"]


def test_lora_trains_under_ten_percent_of_full():
    from lora_teach.classifier import build_classifier
    from lora_teach.params import count_parameters
    from lora_teach.whisper import load_whisper

    counts = {}
    for model in ("full_finetune", "lora"):
        config = TrainConfig(model=model)
        counts[model] = count_parameters(build_classifier(load_whisper("tiny.en", device="cpu").encoder, config.strategy())).trainable
    assert counts["lora"] < 0.10 * counts["full_finetune"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "lora", "--rank", "0"], "rank must be an int >= 1, got 0"),
        (["--alpha", "-1"], "alpha must be a finite positive number"),
        (["--targets", "q,qkv"], "--targets must be a comma list"),
        (["--whisper", "tiny-en"], "--whisper must be a Whisper model name"),
        (["--epochs", "0"], "--epochs must be >= 1, got 0"),
        (["--n-train", "1"], "--n-train must be >= 2, got 1"),
        (["--lr", "5"], "--lr must be in (0, 1), got 5.0"),
        (["--snr-min", "20", "--snr-max", "10"], "snr_range must satisfy"),
        (["--head", "256,x"], "--head must be comma-separated positive ints"),
        (["--profile", "gpu"], "CUDA is not available"),
    ],
)
def test_cli_bad_values_fail_before_any_work(tmp_path, capsys, argv, message):
    assert main(argv + ["--out", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_cli_unknown_choice_is_rejected_by_argparse(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--model", "adapters"])
    assert exit_info.value.code == 2 and "invalid choice: 'adapters'" in capsys.readouterr().err


def test_interrupted_write_leaves_no_results_file(tmp_path):
    with pytest.raises(TypeError):
        write_json_atomic({"ok": 1, "bad": object()}, tmp_path / "results.json")
    assert list(tmp_path.iterdir()) == []


def test_lora_blocks_restrict_where_lora_goes_and_step_memory_counts_it():
    import torch
    from whisper.model import AudioEncoder

    from lora_teach import lora_layers
    from lora_teach.cost import adaptation_variants, step_memory_bytes

    torch.manual_seed(0)
    variants = adaptation_variants(AudioEncoder(80, 1500, 64, 4, 4))
    upper = sorted({n.split(".")[2] for n in lora_layers(variants["LoRA, blocks 2-3"])})
    assert upper == ["2", "3"]
    h1, l1, y = torch.randn(4, 80, 26), torch.randn(4, 80, 26), torch.tensor([0.0, 1.0, 0.0, 1.0])
    memory = {name: step_memory_bytes(m, h1, l1, y) for name, m in variants.items()}
    order = ["full fine-tune", "LoRA, all blocks", "LoRA, blocks 2-3", "LoRA, block 3", "frozen encoder"]
    assert [memory[n] for n in order] == sorted(memory.values(), reverse=True)
    # gradients + two AdamW moments: at least three copies of the trainable parameters
    trainable = sum(p.numel() * 4 for p in variants["full fine-tune"].parameters())
    assert memory["full fine-tune"] >= 3 * trainable


def test_cli_bad_lora_blocks(capsys):
    assert main(["--lora-blocks", "2,x"]) == 2
    assert "--lora-blocks must be comma-separated block indices" in capsys.readouterr().err
    assert main(["--lora-blocks", "-1"]) == 2
    assert "blocks must be a non-empty tuple of block indices >= 0" in capsys.readouterr().err


def test_reloaded_adapter_and_head_reproduce_the_recorded_auc(tmp_path):
    from safetensors.torch import load_file

    from lora_teach import load_adapter
    from lora_teach.classifier import StrategyConfig, build_classifier
    from lora_teach.train import evaluate, prepare_data
    from lora_teach.whisper import load_whisper

    config = TrainConfig(model="lora", n_train=16, n_val=16, epochs=2, batch_size=8, snr_range=(20.0, 30.0))
    data = prepare_data(config, progress=False)
    results = train(config, out=tmp_path, data=data, progress=False)
    model = build_classifier(load_whisper("tiny.en", device="cpu").encoder, StrategyConfig("frozen_encoder", head=config.head))
    load_adapter(model, tmp_path / "best_adapter.safetensors")
    model.head.load_state_dict(load_file(tmp_path / "best_head.safetensors"))
    auc, logits = evaluate(model, data[2], data[3], batch_size=config.batch_size)
    assert auc == results["best_val_auc"]
    assert logits.round(5).tolist() == results["val_scores_best"]
