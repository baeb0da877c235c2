"""Train the GW classifier with one of three strategies and record everything in results.json.

    python -m lora_teach.train --model lora --rank 8 --alpha 8
    python -m lora_teach.train --model full_finetune --profile full --out runs/full

Profiles set the defaults (``cpu``: what CI and the book run; ``full``: the reference's 1000/1000
samples and 20 epochs; ``gpu``: the same on a GPU with bf16 autocast and whisper base); any flag
given on the command line overrides its profile value.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ._checks import check_alpha, check_rank
from .classifier import POOLINGS, STRATEGIES, StrategyConfig, build_classifier
from .features import REPRESENTATIONS, log_mel_batch
from .gw import GWConfig
from .inject import WHISPER_TARGETS
from .params import count_parameters

__all__ = ["TrainConfig", "PROFILES", "train", "evaluate", "run_in_child", "main", "prepare_data"]

PROFILES: dict[str, dict] = {
    "cpu": dict(whisper="tiny.en", n_train=400, n_val=400, epochs=8, batch_size=32, device="cpu"),
    "full": dict(whisper="tiny.en", n_train=1000, n_val=1000, epochs=20, batch_size=32, device="cpu"),
    "gpu": dict(whisper="base", n_train=1000, n_val=1000, epochs=20, batch_size=32, device="cuda", bf16=True),
}
DEFAULT_LR = {"full_finetune": 3e-5, "frozen_encoder": 1e-3, "lora": 1e-3}


@dataclass
class TrainConfig:
    """One training run. ``lr=None`` takes the strategy's default (``DEFAULT_LR``)."""

    model: str = "lora"
    rank: int = 8
    alpha: float = 8.0
    targets: tuple[str, ...] = ("q", "k", "v", "mlp")
    blocks: tuple[int, ...] | None = None  # LoRA only in these encoder blocks (None: all)
    pooling: str = "mean"
    # The reference's head (2d -> 1024 -> 512 -> 256 -> 1) was sized for whisper-small; on tiny it
    # would hold more parameters than LoRA itself, so the default is one hidden layer of 256.
    head: tuple[int, ...] = (256,)
    whisper: str = "tiny.en"
    representation: str = "compressed"
    pad_to_30s: bool = False  # the reference's pipeline: every input padded to Whisper's 30 s
    snr_range: tuple[float, float] = (5.0, 15.0)
    n_train: int = 400
    n_val: int = 400
    epochs: int = 5
    batch_size: int = 32
    lr: float | None = None
    weight_decay: float = 0.01
    patience: int | None = None
    seed: int = 0
    data_seed: int = 0
    device: str = "cpu"
    bf16: bool = False
    threads: int = 2
    profile: str = "cpu"
    max_steps: int | None = None  # stop each epoch after this many batches (smoke tests)

    def __post_init__(self):
        if self.model not in STRATEGIES:
            raise ValueError(f"--model must be one of {STRATEGIES}, got {self.model!r}")
        check_rank(self.rank)
        check_alpha(self.alpha)
        bad = [t for t in self.targets if t not in WHISPER_TARGETS]
        if bad or not self.targets:
            raise ValueError(f"--targets must be a comma list of {list(WHISPER_TARGETS)}, got {bad or self.targets}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"--pooling must be one of {POOLINGS}, got {self.pooling!r}")
        if self.representation not in REPRESENTATIONS:
            raise ValueError(f"--representation must be one of {REPRESENTATIONS}, got {self.representation!r}")
        for name in ("n_train", "n_val"):
            if getattr(self, name) < 2:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 2, got {getattr(self, name)}")
        for name in ("epochs", "batch_size", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.lr is not None and not (0 < self.lr < 1):
            raise ValueError(f"--lr must be in (0, 1), got {self.lr}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"--patience must be >= 1, got {self.patience}")
        import whisper

        known = set(whisper.available_models())
        if self.whisper not in known:
            raise ValueError(f"--whisper must be a Whisper model name ({', '.join(sorted(known))}), got {self.whisper!r}")
        if self.profile not in PROFILES:
            raise ValueError(f"--profile must be one of {list(PROFILES)}, got {self.profile!r}")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {self.device!r} asked for, but CUDA is not available on this machine")
        GWConfig(snr_range=tuple(self.snr_range))  # validates the SNR range
        self.strategy()  # validates the block indices

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.model]

    def strategy(self) -> StrategyConfig:
        blocks = tuple(self.blocks) if self.blocks is not None else None
        return StrategyConfig(self.model, self.rank, self.alpha, tuple(self.targets), self.pooling, tuple(self.head), blocks)


def prepare_data(config: TrainConfig, progress: bool = True, gw: GWConfig | None = None):
    """(train features, train labels, val features, val labels, val SNR); features (n, 2, 80, frames).

    The events come from ``gw`` if given (a harder variant, say), else from the default simulation
    at ``config.snr_range``.
    """
    from .gw_cache import load_or_generate

    gw = gw if gw is not None else GWConfig(snr_range=tuple(config.snr_range))
    out = []
    for split, n in (("train", config.n_train), ("val", config.n_val)):
        ds = load_or_generate(gw, n, config.data_seed, split, progress=progress)
        mels = log_mel_batch(ds.strain, gw.sample_rate, config.representation, config.pad_to_30s)
        out += [mels, torch.from_numpy(ds.label).float()]
        if split == "val":
            out.append(torch.from_numpy(ds.snr))
    return tuple(out)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 32, device: str = "cpu", bf16: bool = False) -> tuple[float, np.ndarray]:
    """(ROC AUC, logits) of ``model`` on inputs ``x`` (n, 2, 80, frames) with labels ``y``, in batches.

    Training scores its validation set with this very function, so a reloaded model evaluated with
    the same batch size reproduces the recorded AUC bit for bit.
    """
    from sklearn.metrics import roc_auc_score

    model.eval()
    scores = []
    with torch.no_grad(), _autocast(device, bf16):
        for i in range(0, len(x), batch_size):
            xb = x[i : i + batch_size].to(device)
            scores.append(model(xb[:, 0], xb[:, 1]).float().cpu())
    logits = torch.cat(scores)
    return float(roc_auc_score(y.numpy(), logits.numpy())), logits.numpy()


def _evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, config: TrainConfig) -> tuple[float, float, np.ndarray]:
    auc, logits = evaluate(model, x, y, config.batch_size, config.device, config.bf16)
    loss = nn.functional.binary_cross_entropy_with_logits(torch.from_numpy(logits), y).item()
    return loss, auc, logits


def _autocast(device: str, bf16: bool):
    return torch.autocast("cuda" if device.startswith("cuda") else "cpu", dtype=torch.bfloat16, enabled=bf16)


def _versions() -> dict:
    import importlib.metadata as md

    versions = {"python": platform.python_version()}
    for pkg in ("torch", "openai-whisper", "lalsuite", "numpy", "scikit-learn", "lora_teach"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    return versions


def _git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parents[1]
        return subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _device_name(config: TrainConfig) -> str:
    if config.device.startswith("cuda"):
        return torch.cuda.get_device_name(config.device)
    return f"CPU ({platform.processor() or platform.machine()}, {config.threads} threads)"


def _save_best(model: nn.Module, config: TrainConfig, out: Path) -> list[str]:
    """Keep only what the strategy trained: adapter + head (LoRA), head (frozen), everything (full)."""
    from safetensors.torch import save_file

    from .adapter import save_adapter

    files = []
    if config.model == "lora":
        save_adapter(model, out / "best_adapter.safetensors")
        files.append("best_adapter.safetensors")
    state = model.head.state_dict() if config.model != "full_finetune" else model.state_dict()
    name = "best_head.safetensors" if config.model != "full_finetune" else "best_model.safetensors"
    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(out / name))
    return files + [name]


def train(config: TrainConfig, out: str | Path | None = None, data=None, progress: bool = True) -> dict:
    """Train one strategy; return the results dict (also written to ``out/results.json`` if given)."""
    from .whisper import load_whisper

    torch.set_num_threads(config.threads)
    x_train, y_train, x_val, y_val, snr_val = data if data is not None else prepare_data(config, progress)
    torch.manual_seed(config.seed)
    encoder = load_whisper(config.whisper, device="cpu").encoder
    model = build_classifier(encoder, config.strategy()).to(config.device)
    counts = count_parameters(model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    loss_fn = nn.BCEWithLogitsLoss()
    shuffle = torch.Generator().manual_seed(config.seed)
    out = Path(out) if out is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    if config.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(config.device)

    history: dict[str, list] = {k: [] for k in ("train_loss", "val_loss", "val_auc", "epoch_seconds")}
    best = {"val_auc": -math.inf, "epoch": None, "scores": None}
    stale = 0
    for epoch in tqdm(range(1, config.epochs + 1), desc=f"{config.model} epochs", disable=not progress):
        model.train()
        order = torch.randperm(len(x_train), generator=shuffle)
        losses = []
        start = time.perf_counter()
        batches = range(0, len(order), config.batch_size)
        for step, i in enumerate(tqdm(batches, desc=f"epoch {epoch}", leave=False, disable=not progress)):
            if config.max_steps is not None and step >= config.max_steps:
                break
            idx = order[i : i + config.batch_size]
            xb, yb = x_train[idx].to(config.device), y_train[idx].to(config.device)
            with _autocast(config.device, config.bf16):
                loss = loss_fn(model(xb[:, 0], xb[:, 1]).float(), yb)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        if config.device.startswith("cuda"):
            torch.cuda.synchronize(config.device)
        history["epoch_seconds"].append(time.perf_counter() - start)
        history["train_loss"].append(float(np.mean(losses)))
        val_loss, val_auc, scores = _evaluate(model, x_val, y_val, config)
        history["val_loss"].append(val_loss)
        history["val_auc"].append(val_auc)
        if val_auc > best["val_auc"]:
            best = {"val_auc": val_auc, "epoch": epoch, "scores": scores}
            stale = 0
            if out is not None:
                best["files"] = _save_best(model, config, out)
        else:
            stale += 1
            if config.patience is not None and stale >= config.patience:
                break

    results = {
        "config": dataclasses.asdict(config) | {"lr": config.learning_rate},
        "profile": config.profile,
        "parameters": {"total": counts.total, "trainable": counts.trainable, "trainable_percent": counts.percent},
        "history": history,
        "epochs_run": len(history["val_auc"]),
        "best_epoch": best["epoch"],
        "best_val_auc": best["val_auc"],
        "best_val_loss": history["val_loss"][best["epoch"] - 1],
        "mean_epoch_seconds": float(np.mean(history["epoch_seconds"])),
        "peak_gpu_memory_bytes": torch.cuda.max_memory_allocated(config.device) if config.device.startswith("cuda") else None,
        "val_labels": y_val.numpy().astype(int).tolist(),
        "val_snr": snr_val.numpy().round(4).tolist(),
        "val_scores_best": np.round(best["scores"], 5).tolist(),
        "checkpoint_files": best.get("files", []),
        "device": _device_name(config),
        "versions": _versions(),
        "git_commit": _git_commit(),
    }
    if out is not None:
        write_json_atomic(results, out / "results.json")
    return results


def write_json_atomic(obj: dict, path: Path) -> None:
    """Write JSON to a temp file beside ``path`` and rename: an interrupted run leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _child(config: TrainConfig, out: str, progress: bool, result_path: str) -> None:
    results = train(config, out=None if out == "" else out, progress=progress)
    # This process's own peak resident memory (ru_maxrss is in KiB on Linux).
    results["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    with open(result_path, "w") as f:
        json.dump(results, f)


def run_in_child(config: TrainConfig, out: str | Path | None = None, progress: bool = True) -> dict:
    """Train in a fresh child process, so that its peak memory (max RSS) is this run's alone."""
    import multiprocessing as mp

    with tempfile.TemporaryDirectory() as tmp:
        result_path = os.path.join(tmp, "child.json")
        proc = mp.get_context("spawn").Process(target=_child, args=(config, "" if out is None else str(out), progress, result_path))
        proc.start()
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"training child process failed with exit code {proc.exitcode}")
        with open(result_path) as f:
            results = json.load(f)
    if out is not None:
        write_json_atomic(results, Path(out) / "results.json")
    return results


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lora_teach.train",
        description="Fine-tune Whisper's encoder to detect gravitational waves (full fine-tune, frozen encoder or LoRA).",
    )
    p.add_argument("--model", default="lora", choices=STRATEGIES, help="adaptation strategy (default: lora)")
    p.add_argument("--rank", type=int, default=8, help="LoRA rank r (default: 8)")
    p.add_argument("--alpha", type=float, default=8.0, help="LoRA alpha; the update is scaled by alpha/r (default: 8)")
    p.add_argument("--targets", default="q,k,v,mlp", help=f"comma list of LoRA targets from {list(WHISPER_TARGETS)} (default: q,k,v,mlp)")
    p.add_argument("--lora-blocks", default=None, help="comma list of encoder block indices for LoRA (default: all blocks)")
    p.add_argument("--whisper", default=None, help="Whisper model name (profile default: tiny.en for cpu/full, base for gpu)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (profile default)")
    p.add_argument("--batch-size", type=int, default=None, help="batch size (profile default: 32)")
    p.add_argument("--lr", type=float, default=None, help=f"AdamW learning rate (default per strategy: {DEFAULT_LR})")
    p.add_argument("--n-train", type=int, default=None, help="training samples (profile default)")
    p.add_argument("--n-val", type=int, default=None, help="validation samples (profile default)")
    p.add_argument("--profile", default="cpu", choices=list(PROFILES), help="defaults for size and device (default: cpu)")
    p.add_argument("--seed", type=int, default=0, help="seed for initialisation and batch order (default: 0)")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the generated data set (default: 0)")
    p.add_argument("--out", default="runs/latest", help="output folder for results.json and the best checkpoint")
    p.add_argument("--head", default="256", help="hidden widths of the MLP head, comma separated (reference: 1024,512,256)")
    p.add_argument("--pooling", default="mean", choices=POOLINGS, help="token pooling before the head (default: mean)")
    p.add_argument("--representation", default="compressed", choices=REPRESENTATIONS, help="strain to log-mel mapping")
    p.add_argument("--snr-min", type=float, default=5.0, help="lowest injected network SNR (default: 5)")
    p.add_argument("--snr-max", type=float, default=15.0, help="highest injected network SNR (default: 15)")
    p.add_argument("--patience", type=int, default=None, help="stop after this many epochs without a better val AUC")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default: 2)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return p


def _widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(w) for w in text.split(",") if w.strip())
    except ValueError:
        raise ValueError(f"--head must be comma-separated positive ints, got {text!r}") from None
    if not widths or min(widths) < 1:
        raise ValueError(f"--head must be comma-separated positive ints, got {text!r}")
    return widths


def _blocks(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(b) for b in text.split(","))
    except ValueError:
        raise ValueError(f"--lora-blocks must be comma-separated block indices, got {text!r}") from None


def config_from_args(argv: list[str] | None = None) -> tuple[TrainConfig, argparse.Namespace]:
    args = _parser().parse_args(argv)
    profile = PROFILES[args.profile]
    pick = lambda name: getattr(args, name) if getattr(args, name) is not None else profile[name]  # noqa: E731
    config = TrainConfig(
        model=args.model, rank=args.rank, alpha=args.alpha,
        targets=tuple(t.strip() for t in args.targets.split(",") if t.strip()),
        blocks=_blocks(args.lora_blocks),
        head=_widths(args.head), pooling=args.pooling, whisper=pick("whisper"), representation=args.representation,
        snr_range=(args.snr_min, args.snr_max), n_train=pick("n_train"), n_val=pick("n_val"),
        epochs=pick("epochs"), batch_size=pick("batch_size"), lr=args.lr, patience=args.patience,
        seed=args.seed, data_seed=args.data_seed, device=profile["device"], bf16=profile.get("bf16", False),
        threads=args.threads, profile=args.profile,
    )  # fmt: skip
    return config, args


def main(argv: list[str] | None = None) -> int:
    try:
        config, args = config_from_args(argv)
    except (ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    run = run_in_child if not config.device.startswith("cuda") else (lambda c, out, progress: train(c, out, progress=progress))
    results = run(config, args.out, not args.no_progress)
    memory = results.get("peak_gpu_memory_bytes") or results.get("peak_rss_bytes")
    print(
        f"{config.model}: best val AUC {results['best_val_auc']:.4f} at epoch {results['best_epoch']}, "
        f"trainable {results['parameters']['trainable']:,}, {results['mean_epoch_seconds']:.1f} s/epoch, "
        f"peak memory {memory / 2**30:.2f} GiB -> {Path(args.out) / 'results.json'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
