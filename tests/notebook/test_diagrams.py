"""The diagrams print the shapes of the objects they are drawn from."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from lora_teach import LoRALinear  # noqa: E402
from lora_teach.notebook.diagrams import (  # noqa: E402
    lora_layer_diagram,
    pipeline_diagram,
    pipeline_shapes,
    whisper_block_diagram,
)
from lora_teach.whisper.targets import whisper_targets  # noqa: E402


def texts(fig):
    found = [t.get_text() for ax in fig.axes for t in ax.texts] + [fig.axes[0].get_title()]
    plt.close(fig)
    return "\n".join(found)


def test_the_lora_layer_diagram_shows_the_layers_own_shapes_and_scale():
    shown = texts(lora_layer_diagram(LoRALinear(nn.Linear(24, 16), rank=3, alpha=6)))
    for part in ("16 × 24", "3 × 24", "16 × 3", "α/r\n= 2", "d = 16, k = 24, r = 3"):
        assert part in shown, part
    shown = texts(lora_layer_diagram(LoRALinear(nn.Linear(24, 16), rank=4, alpha=6, rslora=True)))
    assert "α/√r\n= 3" in shown


def test_the_block_diagram_marks_exactly_the_targets():
    from helpers import tiny_encoder

    block = tiny_encoder(n_layer=1, n_state=64).blocks[0]
    lines = texts(whisper_block_diagram(block, whisper_targets(["q", "v", "mlp"]))).splitlines()
    # each layer's box reads "<name>  (<shorthand>)" over "<in> → <out>[  + LoRA]"
    boxes = {lines[i - 1].split()[0]: line for i, line in enumerate(lines) if "→" in line and i}
    assert boxes["attn.query"] == "64 → 64  + LoRA" and boxes["attn.key"] == "64 → 64"
    assert boxes["mlp.0"] == "64 → 256  + LoRA" and boxes["mlp.2"] == "256 → 64  + LoRA"
    flagged = sorted(name for name, line in boxes.items() if line.endswith("+ LoRA"))
    assert flagged == ["attn.query", "attn.value", "mlp.0", "mlp.2"]
    from lora_teach import add_lora

    add_lora(block, ["attn.key"], rank=2, alpha=2)  # without targets: the layers LoRA wraps
    lines = texts(whisper_block_diagram(block)).splitlines()
    flagged = [lines[i - 1].split()[0] for i, line in enumerate(lines) if line.endswith("+ LoRA")]
    assert flagged == ["attn.key"]
    with pytest.raises(ValueError, match="not a Whisper encoder block"):
        whisper_block_diagram(nn.Sequential(nn.Linear(2, 2)), [])


def test_the_pipeline_shapes_are_measured_by_running_the_stages():
    from lora_teach.train.classifier import build_classifier
    from lora_teach.train.config import TrainConfig
    from lora_teach.whisper.load import load_whisper

    torch.manual_seed(0)
    encoder = load_whisper("tiny.en", device="cpu").encoder
    classifier = build_classifier(encoder, TrainConfig(strategy="frozen_encoder")).eval()
    shapes = dict(pipeline_shapes(classifier))
    assert shapes["cropped"].startswith("2 × 4096 (2 s)")
    mels, frames = (int(n) for n in shapes["log-mel"].split(" (")[0].split(" × ")[1:])
    tokens, width = (int(n) for n in shapes["encoder"].split(" (")[0].split(" × ")[1:])
    assert (mels, tokens, width) == (80, frames // 2, 384)
    assert shapes["concatenated"] == "768" and shapes["head"] == "256 → 1 logit"
    shown = texts(pipeline_diagram(list(shapes.items())))
    assert "shared encoder" in shown and "768" in shown
