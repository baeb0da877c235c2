"""The phase-preserving input: the strain stem, the from-scratch controls, the random-blocks
control, the cosine schedule, and runs on strain that save and reload exactly."""

import math

import numpy as np
import pytest
import torch

from lora_teach.experiments.scale import record_folder, run_name
from lora_teach.gw.config import GWConfig
from lora_teach.train.checkpoint import load_trained
from lora_teach.train.classifier import build_classifier, input_shape
from lora_teach.train.cnn import LogMelCNN, StrainCNN, build_cnn
from lora_teach.train.config import TrainConfig
from lora_teach.train.data import prepare_data
from lora_teach.train.evaluation import evaluate
from lora_teach.train.features import classifier_inputs, n_frames
from lora_teach.train.loop import _schedule, train
from lora_teach.whisper.load import load_whisper
from lora_teach.whisper.strain_stem import StrainStem, encode_strain, stem_frames

TINY = dict(n_train=16, n_val=16, batch_size=16, snr_range=(20.0, 30.0))


@pytest.fixture(scope="module")
def tiny_en():
    return load_whisper("tiny.en", device="cpu")


def test_the_stem_gives_the_compressed_log_mels_frames_and_tokens(tiny_en):
    gw = GWConfig()
    frames = stem_frames(gw.n_segment)
    assert frames == n_frames(gw.n_segment, gw.sample_rate, "compressed") == 26
    stem = StrainStem(384)
    strain = torch.randn(3, gw.n_segment)
    assert stem(strain).shape == (3, 384, frames)
    with torch.no_grad():
        assert encode_strain(tiny_en.encoder, stem, strain).shape == (3, frames // 2, 384)
    # linear before its GELU: the filter bank keeps the sign (the phase) a power image drops
    with torch.no_grad():
        plus, minus = stem.filters(strain[:, None]), stem.filters(-strain[:, None])
    bias = stem.filters.bias[:, None]
    assert torch.allclose(plus - bias, -(minus - bias), atol=1e-5)
    assert 384 * frames > gw.n_segment  # more numbers out than samples in


def test_the_stem_names_bad_inputs(tiny_en):
    stem = StrainStem(384)
    with pytest.raises(ValueError, match=r"strain must be \(batch, samples\), got shape \(4096,\)"):
        stem(torch.randn(4096))
    with pytest.raises(ValueError, match="strain has 100 samples, fewer than the filters' 512"):
        stem(torch.randn(2, 100))
    with pytest.raises(
        ValueError, match="the stem gives 1601 tokens, more than the encoder's 1500"
    ):
        encode_strain(tiny_en.encoder, stem, torch.zeros(1, 160 * 3201))
    with pytest.raises(ValueError, match="stride must be a positive int, got 0"):
        StrainStem(384, stride=0)


def test_strain_inputs_are_the_whitened_strain_itself():
    strain = np.random.default_rng(0).standard_normal((2, 2, 4096))
    x = classifier_inputs(strain, "strain", sample_rate=2048, pad_to_30s=False)
    assert x.dtype == torch.float32 and torch.equal(x, torch.from_numpy(strain).float())
    assert classifier_inputs(strain, "compressed", sample_rate=2048).shape == (2, 2, 80, 26)
    with pytest.raises(ValueError, match="representation must be one of"):
        classifier_inputs(strain, "raw")
    with pytest.raises(ValueError, match="pad_to_30s applies to log-mel inputs"):
        classifier_inputs(strain, "strain", pad_to_30s=True)


def test_lora_on_strain_trains_the_stem_and_head_and_leaves_whisper_frozen(tiny_en):
    import copy

    model = build_classifier(copy.deepcopy(tiny_en.encoder), TrainConfig(representation="strain"))
    trains = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {"stem.filters.weight", "stem.filters.bias"} <= trains
    assert all(n.startswith(("stem.", "head.")) or ".lora_" in n for n in trains), trains
    assert not any(n.startswith("encoder.conv") for n in trains)  # conv2 is Whisper's own
    assert model(torch.randn(2, 4096), torch.randn(2, 4096)).shape == (2,)


def test_random_blocks_replace_every_pretrained_weight_but_not_the_positions(tiny_en):
    import copy

    config = TrainConfig(strategy="full_finetune", representation="strain", pretrained=False)
    torch.manual_seed(0)
    model = build_classifier(copy.deepcopy(tiny_en.encoder), config)
    fresh, pretrained = model.encoder.state_dict(), tiny_en.encoder.state_dict()
    same = [k for k in pretrained if torch.equal(fresh[k], pretrained[k])]
    # LayerNorms start at (1, 0) afresh; Whisper's trained ones are not exactly that
    assert same == ["positional_embedding"], same


def test_the_cnn_controls_read_either_input():
    gw = GWConfig()
    strain_cnn = build_cnn(input_shape(TrainConfig(strategy="cnn", representation="strain")))
    assert isinstance(strain_cnn, StrainCNN)
    assert strain_cnn(torch.randn(3, gw.n_segment), torch.randn(3, gw.n_segment)).shape == (3,)
    mel_cnn = build_cnn(input_shape(TrainConfig(strategy="cnn")))
    assert isinstance(mel_cnn, LogMelCNN)
    assert mel_cnn(torch.randn(3, 80, 26), torch.randn(3, 80, 26)).shape == (3,)
    with pytest.raises(ValueError, match=r"input_shape must be \(samples,\) or \(mels, frames\)"):
        build_cnn((1, 2, 3))
    with pytest.raises(ValueError, match="100 samples are too few"):
        StrainCNN(100)


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_the_schedule_warms_up_then_falls_to_zero(schedule):
    optimiser = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    steps = 200
    plan = _schedule(optimiser, TrainConfig(schedule=schedule), steps)
    lrs = []
    for _ in range(steps):
        lrs.append(optimiser.param_groups[0]["lr"])
        optimiser.step()
        plan.step()
    if schedule == "constant":
        assert lrs == [1.0] * steps
        return
    warmup = round(0.05 * steps)
    assert lrs[0] == pytest.approx(1 / warmup) and lrs[warmup - 1] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(lrs[:warmup], lrs[1:warmup]))
    assert all(a >= b for a, b in zip(lrs[warmup:], lrs[warmup + 1 :]))
    middle = warmup + (steps - warmup) // 2
    assert lrs[middle] == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)), abs=0.01)
    assert lrs[-1] < 1e-3


@pytest.mark.parametrize(
    "change",
    [
        dict(strategy="lora", representation="strain"),
        dict(strategy="cnn", representation="strain"),
        dict(strategy="cnn"),
        dict(strategy="full_finetune", representation="strain", pretrained=False, lr=1e-3),
    ],
)
def test_a_run_on_either_input_reloads_to_its_recorded_auc(tmp_path, change):
    config = TrainConfig(**TINY, epochs=2, schedule="cosine", **change)
    data = prepare_data(config, progress=False)
    results = train(config, out=tmp_path, data=data, progress=False)
    model = load_trained(tmp_path)
    auc, _ = evaluate(model, data.x_val, data.y_val, config.batch_size)
    assert auc == results["best_val_auc"]


def test_run_names_and_folders_say_what_differs():
    assert run_name(TrainConfig()) == "lora"
    assert run_name(TrainConfig(representation="strain", schedule="cosine")) == "lora-strain-cosine"
    scratch = TrainConfig(strategy="full_finetune", representation="strain", pretrained=False)
    assert run_name(scratch) == "full_finetune-strain-scratch"
    assert record_folder(TrainConfig(strategy="cnn")) == "cnn"
    assert record_folder(TrainConfig()) == "tiny.en"
