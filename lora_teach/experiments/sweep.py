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

import dataclasses
from pathlib import Path

from tqdm.auto import tqdm

from lora_teach._paths import RESULTS
from lora_teach.experiments import grid
from lora_teach.files import load_json_cache, write_json_atomic
from lora_teach.provenance import versions
from lora_teach.train.config import TrainConfig, upgrade_record
from lora_teach.train.data import prepare_data
from lora_teach.train.loop import train
from lora_teach.train.profiles import PROFILES

__all__ = [
    "RANKS",
    "ALPHAS",
    "TARGET_SETS",
    "EQUAL_BUDGET_RANKS",
    "SEEDS",
    "StaleSweepError",
    "point_id",
    "sweep_configs",
    "default_path",
    "run_sweep",
    "load_sweep",
    "check_fresh",
    "spot_check",
]

# A data-format id that committed records carry, not a module path: never change it.
FORMAT = "lora_teach.sweep/1"
COMMAND = "python -m lora_teach.experiments.sweep"
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


class StaleSweepError(grid.StaleRecordError):
    """The cached sweep is not what the current code would train."""


def point_id(config: TrainConfig) -> str:
    """A readable key for one sweep point, e.g. ``lora r=8 alpha=8 q,k,v,mlp seed=0``."""
    if config.strategy != "lora":
        return f"{config.strategy} seed={config.seed}"
    pid = (
        f"lora r={config.rank} alpha={config.alpha:g} {','.join(config.targets)} seed={config.seed}"
    )
    if config.snr_curriculum:
        pid += " curriculum=" + ",".join(f"{f:g}" for f in config.snr_curriculum)
    return pid


def sweep_configs(profile: str = "cpu") -> dict[str, TrainConfig]:
    """Every point of the sweep for ``profile``, by :func:`point_id`, in training order."""
    base = TrainConfig.from_profile(profile)  # checks the profile's name
    points: dict[str, TrainConfig] = {}

    def add(**changes) -> None:
        config = dataclasses.replace(base, **changes)
        points.setdefault(point_id(config), config)

    for rank in RANKS:
        for alpha in ALPHAS:
            add(strategy="lora", rank=rank, alpha=float(alpha))
    for seed in SEEDS:
        add(strategy="full_finetune", seed=seed)
        add(strategy="frozen_encoder", seed=seed)
        for rank in RANKS:
            add(strategy="lora", rank=rank, alpha=FIXED_ALPHA, seed=seed)  # the paper's convention
            # the scale alpha / r fixed at 1
            add(strategy="lora", rank=rank, alpha=float(rank), seed=seed)
        # Target sets at scale 1 (alpha = r): the grid shows that large alpha / r destabilises
        # training at small ranks, which would confound the comparison of equal-budget ranks.
        for name, targets in TARGET_SETS.items():
            for rank in (8, EQUAL_BUDGET_RANKS[name]):
                add(strategy="lora", rank=rank, alpha=float(rank), targets=targets, seed=seed)
    return points


def default_path(profile: str = "cpu") -> Path:
    return RESULTS / "sweep" / f"{profile}.json"


def _entry(config: TrainConfig, results: dict) -> dict:
    return grid.run_entry(config, results) | {
        "total": results["parameters"]["total"],
        "mean_epoch_seconds": results["mean_epoch_seconds"],
        "device": results["device"],
    }


def load_sweep(path: str | Path) -> dict:
    """The sweep cache at ``path``, every config as :func:`upgrade_record` reads it."""
    cache = load_json_cache(path, FORMAT, "sweep", "lora_teach.experiments.sweep")
    for entry in cache["runs"].values():
        entry["config"] = upgrade_record(entry["config"])
    return cache


def stale_points(cache: dict, profile: str = "cpu") -> list[str]:
    """Ids of the points that are missing from ``cache`` or were trained with another config."""
    return grid.stale_ids(cache.get("runs", {}), sweep_configs(profile))


def check_fresh(cache: dict, profile: str = "cpu") -> None:
    """Raise :class:`StaleSweepError` naming the points the cache lacks or holds with another config."""
    grid.raise_if_stale(
        stale_points(cache, profile),
        len(sweep_configs(profile)),
        f"{profile} sweep cache",
        f"{COMMAND} --profile {profile}",
        StaleSweepError,
    )


def spot_check(
    cache: dict, ids: list[str], data=None, tolerance: float = 1e-3
) -> dict[str, tuple[float, float]]:
    """Re-train the points ``ids`` and compare their best validation AUC with the cache's.

    Returns ``{id: (cached, retrained)}``; raises :class:`StaleSweepError` if one differs by more
    than ``tolerance`` (on the machine that wrote the cache, runs repeat bit for bit).
    """
    configs = sweep_configs(cache["profile"])
    grid.check_ids(ids, configs, f"the {cache['profile']!r} sweep")
    check_fresh(cache, cache["profile"])
    if data is None:
        data = prepare_data(configs[ids[0]], progress=False)
    compared = {}
    for pid in ids:
        retrained = train(configs[pid], data=data, progress=False)["best_val_auc"]
        compared[pid] = (cache["runs"][pid]["best_val_auc"], retrained)
    command = f"{COMMAND} --profile {cache['profile']}"
    return grid.compare_retrained(compared, tolerance, command, StaleSweepError)


def run_sweep(
    profile: str = "cpu", path: str | Path | None = None, force: bool = False, progress: bool = True
) -> dict:
    """Train every point the cache at ``path`` lacks (all with ``force``), saving after each run."""
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


def _check(path: Path, args) -> int:
    check_fresh(load_sweep(path), args.profile)
    return len(sweep_configs(args.profile))


def main(argv: list[str] | None = None) -> int:
    def profile_argument(parser) -> None:
        parser.add_argument(
            "--profile", default="cpu", choices=list(PROFILES), help="training profile"
        )

    return grid.grid_cli(
        argv,
        COMMAND,
        "Run or check the rank/alpha/target sweep.",
        default_path=lambda args: default_path(args.profile),
        check=_check,
        run=lambda path, args: run_sweep(
            args.profile, path, force=args.force, progress=not args.no_progress
        ),
        add_arguments=profile_argument,
    )


if __name__ == "__main__":
    raise SystemExit(main())
