"""Whisper's encoder layers by shorthand: ``q, k, v, out, mlp`` as the regexes ``add_lora`` takes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from re import Pattern

from lora_teach._checks import is_int

__all__ = ["WHISPER_TARGETS", "whisper_targets"]

# The encoder's Linear layers by shorthand. A block sits at the model's root or under a module
# called `encoder`, so a full Whisper model's decoder blocks (and their cross_attn) never match.
ENCODER_BLOCK = r"(?:(?:.*\.)?encoder\.)?blocks\.{index}\."
WHISPER_LAYERS: dict[str, tuple[str, ...]] = {
    "q": (r"attn\.query",),
    "k": (r"attn\.key",),
    "v": (r"attn\.value",),
    "out": (r"attn\.out",),
    "mlp": (r"mlp\.0", r"mlp\.2"),
}
WHISPER_TARGETS = tuple(WHISPER_LAYERS)


def whisper_targets(
    names: Iterable[str], blocks: Iterable[int] | None = None
) -> list[Pattern[str]]:
    """Full-name regexes for the encoder layers ``names`` (from ``q, k, v, out, mlp``), one per name.

    ``blocks`` restricts them to those encoder block indices (default: every block).
    """
    names = [names] if isinstance(names, str) else list(names)
    bad = [n for n in names if n not in WHISPER_LAYERS]
    if bad or not names:
        raise ValueError(
            f"targets must be a non-empty list from {list(WHISPER_TARGETS)}, got {names}"
        )
    if blocks is None:
        index = r"\d+"
    else:
        blocks = list(blocks)
        if not blocks or not all(is_int(b) and b >= 0 for b in blocks):
            raise ValueError(f"blocks must be a non-empty list of block indices >= 0, got {blocks}")
        index = "(?:" + "|".join(str(b) for b in blocks) + ")"
    block = ENCODER_BLOCK.format(index=index)
    # One pattern per name, so add_lora wraps (and initialises) each name's layers in model order.
    return [re.compile(block + "(?:" + "|".join(WHISPER_LAYERS[name]) + ")") for name in names]
