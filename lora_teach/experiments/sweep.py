"""The ablation sweep: which rank, which alpha, which layers — trained once, cached, checked for freshness.

    python -m lora_teach.experiments.sweep                 # train what the cpu cache lacks, then write it
    python -m lora_teach.experiments.sweep --check         # is the committed cache what this code would train?

The points: the full rank x alpha grid on q,k,v,mlp (seed 0); for two seeds, full fine-tuning, the
frozen encoder, every rank at alpha = 8 (the paper's convention) and at alpha = r, and six target
sets at r = 8 and at an equal parameter budget.

The cache (``data/results/sweep/<profile>.json``) holds one entry per sweep point: the full
training config, the best validation AUC and its epoch, the AUC of every epoch and the trainable
parameters. It is *fresh* when every point the code defines is present with the config the code builds
today; the chapter then re-trains a few points and requires the same AUC (:func:`spot_check`),
which catches a change in the training code that leaves the configs alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from lora_teach._paths import RESULTS
from lora_teach.records import load_json_cache, versions, write_json_atomic
from lora_teach.train.config import PROFILES, TrainConfig, upgrade_record
from lora_teach.train.data import prepare_data
from lora_teach.train.loop import train

__all__ = [
    "RANKS",
    "ALPHAS",
    "TARGET_SETS",
    "EQUAL_BUDGET_RANKS",
    "SEEDS",
    "StaleSweepError",
    "point_id",
    "point_slug",
    "score_keys",
    "point_scores",
    "sweep_configs",
    "default_path",
    "run_sweep",
    "load_sweep",
    "check_fresh",
    "spot_check",
    "scale_sweep_configs",
    "scale_stale_points",
    "check_scale_fresh",
]

# A data-format id that committed records carry, not a module path: never change it.
FORMAT = "lora_teach.sweep/1"
RANKS = (1, 2, 4, 8, 16, 64)
ALPHAS = (1, 2, 4, 8, 16, 64)
TARGET_SETS: dict[str, tuple[str, ...]] = {
    "q,v": ("q", "v"),
    "q,k,v": ("q", "k", "v"),
    "q,k,v,out": ("q", "k", "v", "out"),
    "q,k,v,mlp": ("q", "k", "v", "mlp"),
    "q,k,v,out,mlp": ("q", "k", "v", "out", "mlp"),
    "mlp": ("mlp",),
}
# Ranks that give each target set about the budget of q,v at r = 8 (the paper's Table 5 compares
# target sets this way). Per block of whisper tiny (d = 384, MLP 1536) one rank costs q,v 1536,
# q,k,v 2304, q,k,v,out 3072, q,k,v,mlp 6144, all 6912, mlp 3840 parameters: 12288 / cost, rounded.
EQUAL_BUDGET_RANKS = {
    "q,v": 8,
    "q,k,v": 5,
    "q,k,v,out": 4,
    "q,k,v,mlp": 2,
    "q,k,v,out,mlp": 2,
    "mlp": 3,
}
FIXED_ALPHA = 8.0  # the paper fixes alpha at the first rank it tries and does not tune it
SEEDS = (0, 1)  # the rank and target sweeps run with both, to show the seed-to-seed spread


class StaleSweepError(RuntimeError):
    """The cached sweep is not what the current code would train."""


def point_id(config: TrainConfig) -> str:
    """A readable key for one sweep point, e.g. ``lora r=8 alpha=8 q,k,v,mlp seed=0``."""
    if config.model != "lora":
        return f"{config.model} seed={config.seed}"
    pid = (
        f"lora r={config.rank} alpha={config.alpha:g} {','.join(config.targets)} seed={config.seed}"
    )
    if config.snr_curriculum:
        pid += " curriculum=" + ",".join(f"{f:g}" for f in config.snr_curriculum)
    return pid


def point_slug(point: str) -> str:
    """A file-name-safe form of a point id: ``lora_r8_alpha8_q-k-v-mlp_seed0``."""
    return point.replace(" ", "_").replace("=", "").replace(",", "-")


def score_keys(point: str) -> tuple[str, str]:
    """The keys of a scale point's (noise, signal) test logits in the sweep's ``scores.npz``."""
    slug = point_slug(point)
    return f"{slug}.noise", f"{slug}.signal"


def point_scores(scores, point: str) -> tuple:
    """A scale point's (noise, signal) test logits from the sweep's loaded ``scores.npz``."""
    return tuple(scores[key] for key in score_keys(point))


def sweep_configs(profile: str = "cpu") -> dict[str, TrainConfig]:
    """Every point of the sweep for ``profile``, by :func:`point_id`, in training order."""
    base = TrainConfig.from_profile(profile)  # checks the profile's name
    points: dict[str, TrainConfig] = {}

    def add(**changes) -> None:
        config = dataclasses.replace(base, **changes)
        points.setdefault(point_id(config), config)

    for rank in RANKS:
        for alpha in ALPHAS:
            add(model="lora", rank=rank, alpha=float(alpha))
    for seed in SEEDS:
        add(model="full_finetune", seed=seed)
        add(model="frozen_encoder", seed=seed)
        for rank in RANKS:
            add(model="lora", rank=rank, alpha=FIXED_ALPHA, seed=seed)  # the paper's convention
            add(
                model="lora", rank=rank, alpha=float(rank), seed=seed
            )  # the scale alpha / r fixed at 1
        # Target sets at scale 1 (alpha = r): the grid shows that large alpha / r destabilises
        # training at small ranks, which would confound the comparison of equal-budget ranks.
        for name, targets in TARGET_SETS.items():
            for rank in (8, EQUAL_BUDGET_RANKS[name]):
                add(model="lora", rank=rank, alpha=float(rank), targets=targets, seed=seed)
    return points


# Chapter 8's conclusions re-checked in the scale regime (chapter 6), at a handful of points with
# an equal budget: 4 validations of 8000 samples (32,000 samples seen; the scale LoRA run's
# validation AUC was within 0.006 of its best there). Also the SNR curriculum, against the same
# budget without one, and the reference at two more seeds: the paired test's interval counts the
# test events' noise only, the seeds show how much a retrained run moves.
SCALE_EPOCHS = 4
SCALE_CURRICULUM = (11.0, 8.0)
SCALE_SEEDS = (1, 2)


def scale_sweep_configs() -> dict[str, TrainConfig]:
    """The scale-regime points by :func:`point_id`; the first is the reference (r = 8, alpha = 8,
    q,k,v,mlp, seed 0) the others are compared with, the last are the reference at other seeds."""
    base = TrainConfig.from_profile("scale", model="lora", epochs=SCALE_EPOCHS)
    points = [
        dict(rank=8, alpha=8.0),
        dict(rank=8, alpha=1.0),  # alpha / r = 1/8
        dict(rank=8, alpha=64.0),  # alpha / r = 8
        dict(rank=1, alpha=1.0),
        dict(rank=64, alpha=64.0),
        # q,v at r = 32 trains as many parameters as q,k,v,mlp at r = 8 (32 x 1536 = 8 x 6144)
        dict(rank=32, alpha=32.0, targets=TARGET_SETS["q,v"]),
        dict(rank=8, alpha=8.0, snr_curriculum=SCALE_CURRICULUM),
        *(dict(rank=8, alpha=8.0, seed=seed) for seed in SCALE_SEEDS),
    ]
    configs = [dataclasses.replace(base, **p) for p in points]
    return {point_id(c): c for c in configs}


def scale_stale_points(record: dict) -> list[str]:
    """Ids of the scale points ``record`` lacks or holds with another config."""
    return _stale(record.get("points", {}), scale_sweep_configs())


def check_scale_fresh(record: dict) -> None:
    """Raise :class:`StaleSweepError` unless ``record`` (``data/results/detection/<whisper>/sweep/points.json``)
    holds every scale point with the config the code builds today."""
    stale = scale_stale_points(record)
    if stale:
        raise StaleSweepError(
            f"the scale sweep record is stale: {stale} missing or trained with another config; "
            "regenerate with: python scripts/record_scale.py --sweep"
        )


def default_path(profile: str = "cpu") -> Path:
    return RESULTS / "sweep" / f"{profile}.json"


def _config_dict(config: TrainConfig) -> dict:
    # JSON round trip: tuples become lists, as they are stored.
    return json.loads(json.dumps(config.record()))


def _entry(config: TrainConfig, results: dict) -> dict:
    return {
        "config": _config_dict(config),
        "best_val_auc": results["best_val_auc"],
        "best_epoch": results["best_epoch"],
        "val_auc": results["history"]["val_auc"],
        "trainable": results["parameters"]["trainable"],
        "total": results["parameters"]["total"],
        "mean_epoch_seconds": results["mean_epoch_seconds"],
        "git_commit": results["git_commit"],
        "device": results["device"],
    }


def load_sweep(path: str | Path) -> dict:
    return load_json_cache(path, FORMAT, "sweep", "lora_teach.experiments.sweep")


def _stale(recorded: dict, configs: dict[str, TrainConfig]) -> list[str]:
    """Ids of ``configs`` that ``recorded`` (id -> entry with a ``config``) lacks or holds with
    another config."""
    return [
        pid
        for pid, config in configs.items()
        if pid not in recorded or upgrade_record(recorded[pid]["config"]) != _config_dict(config)
    ]


def stale_points(cache: dict, profile: str = "cpu") -> list[str]:
    """Ids of the points that are missing from ``cache`` or were trained with another config."""
    return _stale(cache.get("runs", {}), sweep_configs(profile))


def check_fresh(cache: dict, profile: str = "cpu") -> None:
    """Raise :class:`StaleSweepError` naming the points the cache lacks or holds with another config."""
    stale = stale_points(cache, profile)
    if stale:
        shown = ", ".join(stale[:5]) + (f" and {len(stale) - 5} more" if len(stale) > 5 else "")
        raise StaleSweepError(
            f"the {profile} sweep cache is stale: {len(stale)} of {len(sweep_configs(profile))} points are missing or were "
            f"trained with another config ({shown}); regenerate with: python -m lora_teach.experiments.sweep --profile {profile}"
        )


def spot_check(
    cache: dict, ids: list[str], data=None, tolerance: float = 1e-3
) -> dict[str, tuple[float, float]]:
    """Re-train the points ``ids`` and compare their best validation AUC with the cache's.

    Returns ``{id: (cached, retrained)}``; raises :class:`StaleSweepError` if one differs by more
    than ``tolerance`` (on the machine that wrote the cache, runs repeat bit for bit).
    """
    configs = sweep_configs(cache["profile"])
    unknown = [i for i in ids if i not in configs]
    if unknown:
        raise ValueError(f"not sweep points of profile {cache['profile']!r}: {unknown}")
    check_fresh(cache, cache["profile"])
    if data is None:
        data = prepare_data(configs[ids[0]], progress=False)
    compared = {}
    for pid in ids:
        retrained = train(configs[pid], data=data, progress=False)["best_val_auc"]
        compared[pid] = (cache["runs"][pid]["best_val_auc"], retrained)
    off = {pid: pair for pid, pair in compared.items() if abs(pair[0] - pair[1]) > tolerance}
    if off:
        raise StaleSweepError(
            f"re-training does not reproduce the cache (cached, now): {off}; regenerate with --force"
        )
    return compared


def run_sweep(
    profile: str = "cpu", path: str | Path | None = None, force: bool = False, progress: bool = True
) -> dict:
    """Train every point the cache at ``path`` lacks (all with ``force``), saving after each run."""
    from tqdm.auto import tqdm

    path = Path(path) if path is not None else default_path(profile)
    configs = sweep_configs(profile)
    cache = (
        load_sweep(path)
        if path.is_file() and not force
        else {"format": FORMAT, "profile": profile, "runs": {}}
    )
    todo = configs if force else {pid: configs[pid] for pid in stale_points(cache, profile)}
    data = prepare_data(next(iter(configs.values())), progress=progress) if todo else None
    for pid, config in tqdm(todo.items(), desc=f"{profile} sweep", disable=not progress):
        results = train(config, data=data, progress=False)
        cache["runs"][pid] = _entry(config, results)
        cache["val_labels"] = results["val_labels"]
        cache["device"] = results["device"]  # of the latest run; each entry holds its own
        cache["versions"] = versions()
        write_json_atomic(cache, path)
    cache["runs"] = {
        pid: cache["runs"][pid] for pid in configs
    }  # drop points the sweep no longer has
    write_json_atomic(cache, path)
    return cache


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m lora_teach.experiments.sweep",
        description="Run or check the rank/alpha/target sweep.",
    )
    p.add_argument(
        "--profile", default="cpu", choices=list(PROFILES), help="training profile (default: cpu)"
    )
    p.add_argument(
        "--out", default=None, help="cache file (default: data/results/sweep/<profile>.json)"
    )
    p.add_argument(
        "--check", action="store_true", help="only check that the cache is fresh; train nothing"
    )
    p.add_argument(
        "--force", action="store_true", help="re-train every point, even those the cache holds"
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = p.parse_args(argv)
    path = Path(args.out) if args.out else default_path(args.profile)
    try:
        if args.check:
            check_fresh(load_sweep(path), args.profile)
            print(f"{path}: fresh ({len(sweep_configs(args.profile))} points)")
            return 0
        cache = run_sweep(args.profile, path, force=args.force, progress=not args.no_progress)
    except (StaleSweepError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{path}: {len(cache['runs'])} points")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
