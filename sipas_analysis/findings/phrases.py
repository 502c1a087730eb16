"""The phrases of the findings table and the number format of its reason sentences.

The Vietnamese phrases (reasons, recommendations, quadrant and level names, reason weights) live
in ``sipas_analysis/findings_phrases.yaml``, read once (:func:`load_phrases`). The numbers put
into the reason sentences are rounded here (:func:`fmt_num`, :func:`fmt_q`, with
:func:`sipas_analysis.report.format.fmt_number`).

>>> fmt_num(71.24), fmt_num(float("nan")), fmt_q(0.0004), fmt_q(0.0123)
('71,2', '–', 'q < 0,001', 'q = 0,012')
>>> lower_first("Trung bình toàn vùng")
'trung bình toàn vùng'
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import yaml

from sipas_analysis.report.format import fmt_number

__all__ = ["PHRASES_FILE", "fmt_num", "fmt_q", "load_phrases", "lower_first"]

#: The phrases file, next to the package's modules (shared with the briefs and the charts).
PHRASES_FILE = Path(__file__).resolve().parents[1] / "findings_phrases.yaml"


@functools.lru_cache(maxsize=1)
def load_phrases() -> dict:
    """The contents of :data:`PHRASES_FILE` (read once)."""
    with open(PHRASES_FILE, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def fmt_num(x: float, digits: int = 1) -> str:
    """Vietnamese number format for reason sentences (:func:`report.format.fmt_number`)."""
    if x is None or not np.isfinite(x):
        return "–"
    return fmt_number(x, digits)


def lower_first(text: str) -> str:
    """The text with its first letter in lower case (a label inside a sentence)."""
    return text[:1].lower() + text[1:]


def fmt_q(q: float) -> str:
    """A BH q-value as a reason sentence shows it (``q < 0,001``, ``q = 0,012``)."""
    if not np.isfinite(q):
        return "–"
    return "q < 0,001" if q < 0.001 else "q = " + fmt_num(q, 3)
