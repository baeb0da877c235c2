"""``python -m lora_teach.train``: the command line, generated from ``TrainConfig``'s fields.

Each field becomes a flag (``n_train`` -> ``--n-train``); tuples take comma lists
(``--targets q,v``, ``--snr-range 5,15``), booleans are switches (``--pad-to-30s``/``--no-pad-to-30s``).
A flag left out takes its profile's value. Every error is one line on stderr, exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing
from pathlib import Path

from lora_teach.train.child import TrainingFailed, run_in_child
from lora_teach.train.config import TrainConfig
from lora_teach.train.environment import check_environment
from lora_teach.train.loop import train
from lora_teach.train.profiles import PROFILES
from lora_teach.train.transformers_adapter import export_run_to_transformers

__all__ = ["main", "config_from_args", "parser"]

HIDDEN = {"profile"}  # set by --profile itself
# Other spellings of a flag: --model is what --strategy was called before (and what the README's
# first command uses).
ALIASES = {"strategy": ("--model",)}


def _converter(name: str, hint):
    """A function that turns the flag's text into the field's type (``X | None`` as ``X``)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]

        def parse_tuple(text: str):
            try:
                return tuple(item(t.strip()) for t in text.split(",") if t.strip())
            except ValueError:
                message = f"--{_flag(name)} takes a comma list of {item.__name__}, got {text!r}"
                raise argparse.ArgumentTypeError(message) from None

        return parse_tuple
    return hint


def _flag(name: str) -> str:
    return name.replace("_", "-")


class _OneLineParser(argparse.ArgumentParser):
    """argparse, with its errors as one line (``error: ...``) instead of usage + message."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see --help)\n")


def parser() -> argparse.ArgumentParser:
    p = _OneLineParser(
        prog="python -m lora_teach.train",
        description="Fine-tune Whisper's encoder to detect gravitational waves "
        "(full fine-tune, frozen encoder or LoRA). Defaults come from --profile.",
    )
    p.add_argument(
        "--profile", default="cpu", choices=list(PROFILES), help="defaults for size and device"
    )
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        if f.name in HIDDEN:
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        help_text = f"{f.metadata.get('help', '')} (cpu profile: {default})"
        flags = (f"--{_flag(f.name)}", *ALIASES.get(f.name, ()))
        if hints[f.name] is bool:
            p.add_argument(
                *flags,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        else:
            p.add_argument(
                *flags,
                type=_converter(f.name, hints[f.name]),
                default=None,
                help=help_text,
            )
    p.add_argument(
        "--out",
        default="runs/latest",
        help="output folder for results.json and the best checkpoint",
    )
    p.add_argument(
        "--export-transformers",
        metavar="DIR",
        help="after training, write the best LoRA checkpoint to DIR as a PEFT adapter for "
        "Hugging Face transformers' WhisperModel, its head beside it (LoRA runs only)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return p


def config_from_args(argv: list[str] | None = None) -> tuple[TrainConfig, argparse.Namespace]:
    """Parse ``argv``; the profile's config with every given flag applied on top."""
    args = parser().parse_args(argv)
    names = {f.name for f in dataclasses.fields(TrainConfig)} - HIDDEN
    overrides = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    return TrainConfig.from_profile(args.profile, **overrides), args


def main(argv: list[str] | None = None) -> int:
    try:
        config, args = config_from_args(argv)
        if args.export_transformers and config.strategy != "lora":
            raise ValueError(
                f"--export-transformers ships a LoRA adapter; --strategy {config.strategy} "
                "trains none"
            )
        if args.export_transformers and config.representation == "strain":
            raise ValueError(
                "--export-transformers ships a log-mel adapter; --representation strain reads "
                "strain through a stem transformers' Whisper does not have"
            )
        check_environment(config)
        if config.on_cuda:
            results = train(config, args.out, progress=not args.no_progress)
        else:
            results = run_in_child(config, args.out, not args.no_progress)
    except (ValueError, TypeError, TrainingFailed, FileNotFoundError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.export_transformers:
        try:
            export_run_to_transformers(args.out, args.export_transformers)
        except (ValueError, OSError) as err:
            print(
                f"error: training finished ({Path(args.out) / 'results.json'}), but the export to "
                f"{args.export_transformers} failed: {err}",
                file=sys.stderr,
            )
            return 2
    memory = results.get("peak_gpu_memory_bytes") or results.get("peak_rss_bytes")
    print(
        f"{config.strategy}: best val AUC {results['best_val_auc']:.4f} at epoch {results['best_epoch']}, "
        f"trainable {results['parameters']['trainable']:,}, {results['mean_epoch_seconds']:.1f} s/epoch, "
        f"peak memory {memory / 2**30:.2f} GiB -> {Path(args.out) / 'results.json'}"
    )
    if args.export_transformers:
        print(f"adapter for transformers' WhisperModel -> {args.export_transformers}")
    return 0
