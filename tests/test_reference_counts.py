"""Parameter counts of the reference setup (whisper-small + two-channel head), on the meta device."""

import torch
from torch import nn

from lora_teach import add_lora, count_parameters
from lora_teach.whisper.targets import whisper_targets

# The presentation's reported trainable counts.
REFERENCE = {"full_finetune": 89e6, "frozen_encoder": 2.32e6, "lora": 3.4e6}


def reference_model():
    from whisper.model import AudioEncoder

    with torch.device("meta"):
        model = nn.Module()
        model.encoder = AudioEncoder(n_mels=80, n_ctx=1500, n_state=768, n_head=12, n_layer=12)
        model.classifier = nn.Sequential(
            nn.Linear(768 * 2, 1024),
            nn.ReLU(),
            nn.Linear(1024, 512),
            nn.ReLU(),
            nn.Linear(512, 256),
            nn.ReLU(),
            nn.Linear(256, 1),
        )
    return model


def test_reference_counts():
    full = count_parameters(reference_model())
    frozen_model = reference_model()
    frozen_model.encoder.requires_grad_(False)
    frozen = count_parameters(frozen_model)
    lora = count_parameters(
        add_lora(
            reference_model(),
            whisper_targets(["q", "k", "v", "mlp"]),
            rank=8,
            alpha=8,
            trainable=("classifier",),
        )
    )
    head = 1536 * 1024 + 1024 + 1024 * 512 + 512 + 512 * 256 + 256 + 256 + 1
    assert frozen.trainable == head
    assert lora.trainable == head + 12 * (3 * 8 * (768 + 768) + 2 * 8 * (768 + 3072))
    assert full.trainable == full.total
    # Full and LoRA match the reference to 1%; the frozen encoder's head is 4% below its 2.32 M
    # (the reference's head must have held ~0.09 M more parameters than 1536-1024-512-256-1).
    assert abs(full.trainable / REFERENCE["full_finetune"] - 1) < 0.01
    assert abs(lora.trainable / REFERENCE["lora"] - 1) < 0.01
    assert 0.95 < frozen.trainable / REFERENCE["frozen_encoder"] < 0.97
