"""The repository's folders, named once: every module that reads committed data or results asks here.

``REPO`` is the checkout this package was imported from (an editable install); a non-editable
install has no ``data`` beside it, which callers check with ``DATA.is_dir()``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["REPO", "DATA", "RESULTS", "DETECTION"]

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
RESULTS = DATA / "results"
DETECTION = RESULTS / "detection"  # the detectors' records on the held-out test split
