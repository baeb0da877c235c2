"""The two-channel classifier: shapes, pooling, and what each strategy trains."""

import pytest
import torch
from whisper.model import AudioEncoder

from lora_teach import count_parameters
from lora_teach.train.classifier import REFERENCE_HEAD, TwoChannelClassifier, build_classifier
from lora_teach.train.config import TrainConfig
from lora_teach.whisper.load import load_whisper


@pytest.fixture(scope="module")
def tiny_en():
    return load_whisper("tiny.en", device="cpu")


def test_classifier_shapes_and_pooling(tiny_en):
    model = TwoChannelClassifier(tiny_en.encoder, pooling="last")
    h1, l1 = torch.randn(4, 80, 26), torch.randn(4, 80, 26)
    with torch.no_grad():
        logits = model(h1, l1)
        assert logits.shape == (4,)
        # the shared encoder sees H1 and L1 separately: swapping the detectors changes the logit
        assert not torch.allclose(model(l1, h1), logits)
    with pytest.raises(ValueError, match=r"same shape, got \(4, 80, 26\) and \(4, 80, 28\)"):
        model(h1, torch.randn(4, 80, 28))
    with pytest.raises(ValueError, match="pooling must be one of"):
        TwoChannelClassifier(tiny_en.encoder, pooling="max")


def test_three_strategies_train_what_they_should():
    counts = {}
    for strategy in ("full_finetune", "frozen_encoder", "lora"):
        torch.manual_seed(0)
        encoder = AudioEncoder(80, 1500, 384, 6, 4)  # tiny's shape
        config = TrainConfig(strategy=strategy, head=REFERENCE_HEAD)
        counts[strategy] = count_parameters(build_classifier(encoder, config))
    head = (
        768 * 1024 + 1024 + 1024 * 512 + 512 + 512 * 256 + 256 + 257
    )  # 2d -> 1024 -> 512 -> 256 -> 1
    assert counts["frozen_encoder"].trainable == head
    assert counts["lora"].trainable == head + 4 * (3 * 8 * 768 + 2 * 8 * (384 + 1536))
    assert counts["full_finetune"].trainable == counts["full_finetune"].total
    with pytest.raises(ValueError, match="strategy must be one of"):
        TrainConfig(strategy="adapter")
