"""Training in a fresh child process, so that its peak memory (max RSS) is the run's alone; an
error there comes back to the parent as one line."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import resource
import tempfile
from pathlib import Path

from lora_teach.files import write_json_atomic
from lora_teach.train.config import TrainConfig
from lora_teach.train.loop import train

__all__ = ["run_in_child", "TrainingFailed"]


class TrainingFailed(RuntimeError):
    """Training in a child process failed; the message is the child's error in one line."""


def _child(config: TrainConfig, out: str, progress: bool, result_path: str) -> None:
    try:
        results = train(config, out=None if out == "" else out, progress=progress)
    except Exception as err:  # reported to the parent in one line, not as a traceback
        results = {"error": f"{type(err).__name__}: {err}"}
    # This process's own peak resident memory (ru_maxrss is in KiB on Linux).
    results["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    with open(result_path, "w") as f:
        json.dump(results, f)


def run_in_child(config: TrainConfig, out: str | Path | None = None, progress: bool = True) -> dict:
    """Train in a fresh child process, so that its peak memory (max RSS) is this run's alone.

    Raises :class:`TrainingFailed` with the child's error message if training fails there.
    """
    with tempfile.TemporaryDirectory() as tmp:
        result_path = os.path.join(tmp, "child.json")
        args = (config, "" if out is None else str(out), progress, result_path)
        proc = mp.get_context("spawn").Process(target=_child, args=args)
        proc.start()
        proc.join()
        if not os.path.isfile(result_path):
            raise TrainingFailed(
                f"the training process died with exit code {proc.exitcode} (out of memory?)"
            )
        with open(result_path) as f:
            results = json.load(f)
    if "error" in results:
        raise TrainingFailed(results["error"])
    if out is not None:
        write_json_atomic(results, Path(out) / "results.json")
    return results
