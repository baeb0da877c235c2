"""The strategies, their default learning rates, and the profiles a run starts from.

``cpu``: what CI and the book run; ``full``: the reference's 1000 + 1000 samples and 20 epochs;
``gpu``: the same on a GPU with whisper small; ``scale``: a 40,000-sample pool for up to an hour.
"""

from __future__ import annotations

__all__ = ["PROFILES", "STRATEGIES", "SCHEDULES", "POOLINGS", "DEFAULT_HEAD", "DEFAULT_LR"]

# "cnn": no Whisper at all, a small CNN trained from scratch on the same input (the control)
STRATEGIES = ("full_finetune", "frozen_encoder", "lora", "cnn")
SCHEDULES = ("constant", "cosine")  # cosine: linear warm-up over 5% of the steps, then to 0
POOLINGS = ("mean", "last")
# The reference's head (2d -> 1024 -> 512 -> 256 -> 1) was sized for whisper-small; on tiny it
# would hold more parameters than LoRA itself, so the default is one hidden layer of 256.
DEFAULT_HEAD = (256,)
DEFAULT_LR = {"full_finetune": 3e-5, "frozen_encoder": 1e-3, "lora": 1e-3, "cnn": 1e-3}
PROFILES: dict[str, dict] = {
    "cpu": dict(whisper="tiny.en", n_train=400, n_val=400, epochs=8, batch_size=32, device="cpu"),
    "full": dict(
        whisper="tiny.en", n_train=1000, n_val=1000, epochs=20, batch_size=32, device="cpu"
    ),
    # The reference's model, whisper small: downloaded where the internet is reachable (Colab).
    # Offline only tiny.en and base ship as packages: add --whisper base there.
    "gpu": dict(whisper="small", n_train=1000, n_val=1000, epochs=20, batch_size=32, device="cuda"),
    # Training at scale on 2 CPU cores: a pool of 20,000 signals + 20,000 noise windows, seen
    # 8000 samples per "epoch" (one validation point of the learning curve each), for at most
    # an hour of training.
    "scale": dict(
        whisper="tiny.en",
        n_train=40000,
        n_val=2000,
        epochs=40,
        batch_size=64,
        epoch_samples=8000,
        patience=6,
        max_minutes=60.0,
        device="cpu",
    ),
}
