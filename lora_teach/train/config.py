"""One training run's configuration: the strategy, the model, the data and the optimiser.

``TrainConfig.from_profile(name, **overrides)`` is the one way a profile (``profiles.py``) becomes
a config; ``TrainConfig.from_record`` reads one back from a run's results.json. Every field's
value is validated here, with a message that names the value and what was allowed; what a run
needs of the machine (the Whisper model, a CUDA device) is checked where it starts
(``environment.py``). The command line is generated from these fields (``cli.py``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch

from lora_teach._checks import INITS, check_lora_settings, check_rank, is_int, is_real
from lora_teach.train.features import INPUTS
from lora_teach.train.precision import PRECISIONS, resolve_precision
from lora_teach.train.profiles import (
    DEFAULT_HEAD,
    DEFAULT_LR,
    POOLINGS,
    PROFILES,
    SCHEDULES,
    STRATEGIES,
)
from lora_teach.whisper.targets import whisper_targets

__all__ = ["TrainConfig", "upgrade_record"]


def _help(text: str) -> dict:
    return {"help": text}


@dataclass
class TrainConfig:
    """One training run; the defaults are the ``cpu`` profile's. ``lr=None``: the strategy's default."""

    strategy: str = field(
        default="lora",
        metadata=_help(f"adaptation strategy, one of {STRATEGIES} (also --model)"),
    )
    rank: int = field(default=8, metadata=_help("LoRA rank r"))
    alpha: float = field(
        default=8.0, metadata=_help("LoRA alpha; the update is scaled by alpha / r")
    )
    targets: tuple[str, ...] = field(
        default=("q", "k", "v", "mlp"), metadata=_help("LoRA target layers, from q,k,v,out,mlp")
    )
    blocks: tuple[int, ...] | None = field(
        default=None, metadata=_help("encoder block indices that get LoRA (default: all)")
    )
    init: str = field(
        default="kaiming", metadata=_help(f"how LoRA's A starts, one of {INITS} (pissa: PiSSA)")
    )
    rslora: bool = field(default=False, metadata=_help("scale by alpha / sqrt(r) (rsLoRA)"))
    dora: bool = field(default=False, metadata=_help("weight-decomposed LoRA (DoRA)"))
    fused: bool = field(
        default=False,
        metadata=_help(
            "LoRA layers back-propagate through a hand-written backward (float32: a faster step, the same gradients up to rounding)"
        ),
    )
    lora_plus_ratio: float | None = field(
        default=None, metadata=_help("LoRA+: train B at this multiple of the learning rate")
    )
    pooling: str = field(
        default="mean", metadata=_help(f"token pooling before the head, one of {POOLINGS}")
    )
    head: tuple[int, ...] = field(
        default=DEFAULT_HEAD,
        metadata=_help("hidden widths of the MLP head (reference: 1024,512,256)"),
    )
    whisper: str = field(default="tiny.en", metadata=_help("Whisper model name"))
    representation: str = field(
        default="compressed",
        metadata=_help(
            f"what the classifier reads, one of {INPUTS}: a strain to log-mel mapping, or the whitened strain through a learned filter-bank stem"
        ),
    )
    pretrained: bool = field(
        default=True,
        metadata=_help("start from Whisper's weights (False: the blocks randomly initialised)"),
    )
    pad_to_30s: bool = field(
        default=False, metadata=_help("pad every input to Whisper's 30 s (the reference)")
    )
    snr_range: tuple[float, float] = field(
        default=(5.0, 15.0), metadata=_help("injected network SNR range")
    )
    snr_curriculum: tuple[float, ...] = field(
        default=(),
        metadata=_help(
            "lowest training SNR in each of the first epochs, loud first (e.g. 11,8; needs --epoch-samples); half of each such epoch is signals at or above it, half noise; later epochs draw from the whole pool"
        ),
    )
    n_train: int = field(default=400, metadata=_help("training samples"))
    n_val: int = field(default=400, metadata=_help("validation samples"))
    epochs: int = field(default=8, metadata=_help("training epochs"))
    batch_size: int = field(default=32, metadata=_help("batch size"))
    lr: float | None = field(
        default=None, metadata=_help(f"AdamW learning rate (default per strategy: {DEFAULT_LR})")
    )
    weight_decay: float = field(default=0.01, metadata=_help("AdamW weight decay"))
    schedule: str = field(
        default="constant",
        metadata=_help(f"learning-rate schedule, one of {SCHEDULES} (cosine: 5% linear warm-up)"),
    )
    patience: int | None = field(
        default=None, metadata=_help("stop after this many epochs without a better val AUC")
    )
    seed: int = field(default=0, metadata=_help("seed for initialisation and batch order"))
    data_seed: int = field(default=0, metadata=_help("seed of the generated data set"))
    device: str = field(default="cpu", metadata=_help("torch device"))
    precision: str = field(
        default="auto", metadata=_help(f"autocast precision, one of {PRECISIONS} (auto: by device)")
    )
    threads: int = field(default=2, metadata=_help("torch CPU threads"))
    profile: str = field(
        default="cpu", metadata=_help(f"defaults for size and device, one of {list(PROFILES)}")
    )
    max_steps: int | None = field(
        default=None, metadata=_help("batches per epoch at most (smoke tests)")
    )
    epoch_samples: int | None = field(
        default=None,
        metadata=_help(
            "samples per epoch, drawn in turn from reshuffled passes over the training pool (default: the whole pool)"
        ),
    )
    max_minutes: float | None = field(
        default=None,
        metadata=_help("stop after the epoch during which training passed this many minutes"),
    )

    @classmethod
    def from_profile(cls, name: str = "cpu", **overrides) -> TrainConfig:
        """The config of profile ``name`` with ``overrides`` (field names) applied on top."""
        if name not in PROFILES:
            raise ValueError(f"profile must be one of {list(PROFILES)}, got {name!r}")
        if "profile" in overrides:
            raise TypeError("give the profile as from_profile's first argument, not as profile=")
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise TypeError(f"unknown TrainConfig field(s) {unknown}")
        return cls(**{**PROFILES[name], **overrides, "profile": name})

    @classmethod
    def from_record(cls, record: dict, **overrides) -> TrainConfig:
        """The config a run recorded (``results.json``'s ``config``), with ``overrides`` on top.

        Older records are read as :func:`upgrade_record` says.
        """
        fields = {f.name for f in dataclasses.fields(cls)}
        values = upgrade_record(record)
        unknown = sorted(set(values) - fields)
        if unknown:
            raise ValueError(f"the record holds fields TrainConfig does not have: {unknown}")
        return cls(**(values | overrides))

    def __post_init__(self):
        self.targets, self.head = tuple(self.targets), tuple(self.head)
        self.snr_range = tuple(float(s) for s in self.snr_range)  # 5 and 5.0: one cache key
        self.blocks = None if self.blocks is None else tuple(self.blocks)
        self.snr_curriculum = tuple(float(s) if is_real(s) else s for s in self.snr_curriculum)
        _one_of("strategy", self.strategy, STRATEGIES)
        check_rank(self.rank)
        check_lora_settings(self.alpha, 0.0, self.init, self.dora, self.fused)
        if self.lora_plus_ratio is not None and not (
            is_real(self.lora_plus_ratio) and self.lora_plus_ratio > 0
        ):
            raise ValueError(
                f"lora_plus_ratio (lr_B / lr_A) must be a positive number, got {self.lora_plus_ratio!r}"
            )
        _one_of("pooling", self.pooling, POOLINGS)
        _one_of("representation", self.representation, INPUTS)
        _one_of("schedule", self.schedule, SCHEDULES)
        if self.pad_to_30s and self.representation == "strain":
            raise ValueError("pad_to_30s pads log-mel inputs; representation='strain' has none")
        if not self.pretrained and self.strategy != "full_finetune":
            raise ValueError(
                f"pretrained=False (random blocks) trains them in full: strategy must be "
                f"'full_finetune', got {self.strategy!r}"
            )
        _one_of("profile", self.profile, tuple(PROFILES))
        _one_of("precision", self.precision, PRECISIONS)
        if not self.head or not all(is_int(h) and h > 0 for h in self.head):
            raise ValueError(
                f"head must be a non-empty tuple of positive ints (hidden widths), got {self.head!r}"
            )
        for name, low in (
            ("n_train", 2),
            ("n_val", 2),
            ("epochs", 1),
            ("batch_size", 1),
            ("threads", 1),
        ):
            _at_least(name, getattr(self, name), low)
        for name in ("patience", "max_steps", "epoch_samples"):
            if getattr(self, name) is not None:
                _at_least(name, getattr(self, name), 1)
        if self.max_minutes is not None and not (
            is_real(self.max_minutes) and self.max_minutes > 0
        ):
            raise ValueError(f"max_minutes must be a positive number, got {self.max_minutes!r}")
        if self.lr is not None and not (is_real(self.lr) and 0 < self.lr < 1):
            raise ValueError(f"lr must be a number in (0, 1), got {self.lr!r}")
        if not (is_real(self.weight_decay) and 0 <= self.weight_decay < 1):
            raise ValueError(f"weight_decay must be a number in [0, 1), got {self.weight_decay!r}")
        low, high = self.snr_range if len(self.snr_range) == 2 else (None, None)
        if low is None or not (0 <= low <= high <= 1000):
            raise ValueError(
                f"snr_range must be (min, max) with 0 <= min <= max <= 1000, got {self.snr_range}"
            )
        self._check_curriculum()
        self._check_device()
        self.lora_targets()  # validates targets and blocks

    def _check_curriculum(self) -> None:
        floors = self.snr_curriculum
        low, high = self.snr_range
        if not all(is_real(f) and low <= f <= high for f in floors):
            raise ValueError(
                f"snr_curriculum must hold SNRs within snr_range {self.snr_range}, got {floors}"
            )
        if any(b > a for a, b in zip(floors, floors[1:])):
            raise ValueError(f"snr_curriculum must not rise (loud first), got {floors}")
        if floors and self.epoch_samples is None:
            raise ValueError(
                f"snr_curriculum {floors} needs epoch_samples (each curriculum epoch draws that "
                "many samples, half of them signals above its floor), got epoch_samples=None"
            )

    def _check_device(self) -> None:
        """The device's name; whether this machine has it is checked where a run starts
        (:func:`~lora_teach.train.environment.check_environment`)."""
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError):
            raise ValueError(
                f"device must be a torch device such as 'cpu' or 'cuda:0', got {self.device!r}"
            ) from None
        if device.type not in ("cpu", "cuda"):
            raise ValueError(f"device must be a CPU or CUDA device, got {self.device!r}")

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.strategy]

    @property
    def on_cuda(self) -> bool:
        """Whether the run uses a CUDA device (``device`` is validated as CPU or CUDA)."""
        return self.device.startswith("cuda")

    @property
    def autocast_precision(self) -> str:
        """``fp32``, ``bf16`` or ``fp16``: ``precision``, with ``auto`` resolved for ``device``."""
        return resolve_precision(self.precision, self.device)

    def lora_targets(self) -> list:
        """The regexes of the encoder layers that get LoRA (``targets`` within ``blocks``)."""
        return whisper_targets(self.targets, self.blocks)

    def record(self) -> dict:
        """The flat record stored in results.json and the sweep cache: every field, with the
        learning rate and the precision resolved (what the run really used)."""
        return dataclasses.asdict(self) | {
            "lr": self.learning_rate,
            "precision": self.autocast_precision,
        }


def upgrade_record(record: dict) -> dict:
    """A recorded config in today's form. ``strategy`` was called ``model`` before. Records
    written before ``precision`` existed hold ``bf16`` (a bool): True meant bfloat16 autocast,
    False float32. Records written before a field existed (``epoch_samples``, ``max_minutes``,
    the LoRA variants, ``snr_curriculum``, ``fused``, ``pretrained``, ``schedule``) trained as its
    default does."""
    values = dict(record)
    if "model" in values and "strategy" not in values:
        values["strategy"] = values.pop("model")
    for name, default in (
        ("epoch_samples", None),
        ("max_minutes", None),
        ("init", "kaiming"),
        ("rslora", False),
        ("dora", False),
        ("fused", False),
        ("lora_plus_ratio", None),
        ("snr_curriculum", []),
        ("pretrained", True),
        ("schedule", "constant"),
    ):
        values.setdefault(name, default)
    if "bf16" in values and "precision" not in values:
        values["precision"] = "bf16" if values.pop("bf16") else "fp32"
    return values


def _one_of(name: str, value, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def _at_least(name: str, value, low: int) -> None:
    if not is_int(value) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
