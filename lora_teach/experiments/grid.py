"""What every recorded grid of training runs shares: stored configs, freshness, spot checks, CLI.

A grid names each point by an id and builds its :class:`TrainConfig`; its cache stores, per id,
the config the point trained with. The cache is *fresh* when every point the code defines is
there with the config the code builds today; a spot check re-trains a few points and requires
the cached numbers, which catches a change in the training code that leaves the configs alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from lora_teach.train.config import TrainConfig, upgrade_record

__all__ = [
    "StaleRecordError",
    "stored_config",
    "run_entry",
    "stale_ids",
    "raise_if_stale",
    "check_ids",
    "compare_retrained",
    "grid_cli",
]


class StaleRecordError(RuntimeError):
    """A recorded grid is not what the current code would train."""


def stored_config(config: TrainConfig) -> dict:
    """``config`` as a cache stores it: its record after a JSON round trip (tuples as lists)."""
    return json.loads(json.dumps(config.record()))


def run_entry(config: TrainConfig, results: dict) -> dict:
    """What every grid keeps of a run: its config, validation AUCs, trainable parameters and
    the commit that trained it."""
    return {
        "config": stored_config(config),
        "best_val_auc": results["best_val_auc"],
        "best_epoch": results["best_epoch"],
        "val_auc": results["history"]["val_auc"],
        "trainable": results["parameters"]["trainable"],
        "git_commit": results["git_commit"],
    }


def stale_ids(recorded: Mapping[str, dict], configs: Mapping[str, TrainConfig]) -> list[str]:
    """Ids of ``configs`` that ``recorded`` (id -> entry with a ``config``) lacks or holds with
    another config; records written before a field was renamed are read as
    :func:`~lora_teach.train.config.upgrade_record` says."""
    return [
        pid
        for pid, config in configs.items()
        if pid not in recorded or upgrade_record(recorded[pid]["config"]) != stored_config(config)
    ]


def raise_if_stale(
    stale: list[str], total: int, what: str, command: str, error=StaleRecordError
) -> None:
    """Raise ``error`` naming the first stale points of the ``what`` cache and ``command``."""
    if not stale:
        return
    shown = ", ".join(stale[:5]) + (f" and {len(stale) - 5} more" if len(stale) > 5 else "")
    raise error(
        f"the {what} is stale: {len(stale)} of {total} points are missing or were trained with "
        f"another config ({shown}); regenerate with: {command}"
    )


def check_ids(ids: list[str], configs: Mapping[str, object], what: str) -> None:
    """Raise ValueError naming the ``ids`` that are not points of ``configs``."""
    unknown = [i for i in ids if i not in configs]
    if unknown:
        raise ValueError(f"not points of {what}: {unknown}")


def compare_retrained(
    compared: dict[str, tuple[float, float]], tolerance: float, command: str, error
) -> dict[str, tuple[float, float]]:
    """``compared`` ({id: (cached, now)}), or ``error`` naming the pairs off by > ``tolerance``."""
    off = {pid: pair for pid, pair in compared.items() if abs(pair[0] - pair[1]) > tolerance}
    if off:
        raise error(
            f"re-training does not reproduce the cache (cached, now): {off}; "
            f"regenerate with: {command} --force"
        )
    return compared


def grid_cli(
    argv: list[str] | None,
    prog: str,
    description: str,
    default_path: Callable[[argparse.Namespace], Path],
    check: Callable[[Path, argparse.Namespace], int],
    run: Callable[[Path, argparse.Namespace], dict],
    add_arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None,
) -> int:
    """The command line of a recorded grid: ``--check`` (``check(path, args)`` returns the
    number of points), else ``run(path, args)`` trains what the cache lacks. Errors are one
    line on stderr and exit status 2."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_arguments(parser)
    parser.add_argument("--out", default=None, help="cache file (default: the committed one)")
    parser.add_argument("--check", action="store_true", help="only check that it is fresh")
    parser.add_argument("--force", action="store_true", help="re-train every point")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    args = parser.parse_args(argv)
    path = Path(args.out) if args.out else default_path(args)
    try:
        if args.check:
            print(f"{path}: fresh ({check(path, args)} points)")
            return 0
        cache = run(path, args)
    except (StaleRecordError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{path}: {len(cache['runs'])} points")
    return 0
