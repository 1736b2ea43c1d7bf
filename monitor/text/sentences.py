"""Sentence boundaries with character offsets (shared by rules evidence and the classifier)."""

import re
from typing import NamedTuple


class Span(NamedTuple):
    start: int
    end: int
    text: str


# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before whitespace and an
# upper-case letter, digit or opening quote, or at a blank line / line break (headlines, bylines).
_BOUNDARY = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])|\n+")
_ABBREVIATIONS = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "gen",
        "col",
        "lt",
        "sgt",
        "capt",
        "gov",
        "sen",
        "rep",
        "u.s",
        "u.n",
        "no",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "vs",
        "etc",
        "inc",
        "corp",
        "ltd",
        "jr",
        "sr",
        "prof",
        "rev",
    }
)


def split_sentences(text: str) -> list[Span]:
    """Split into sentences, keeping offsets into ``text``; empty stretches are dropped."""
    spans: list[Span] = []
    start = 0
    for boundary in _BOUNDARY.finditer(text):
        candidate = text[start : boundary.start()]
        last_word = candidate.rstrip(".!?\"'”’)] ").rsplit(maxsplit=1)[-1:] or [""]
        if "\n" not in boundary.group() and last_word[0].lower().rstrip(".") in _ABBREVIATIONS:
            continue
        _append(spans, text, start, boundary.start())
        start = boundary.end()
    _append(spans, text, start, len(text))
    return spans


def _append(spans: list[Span], text: str, start: int, end: int) -> None:
    chunk = text[start:end]
    stripped = chunk.strip()
    if stripped:
        lead = len(chunk) - len(chunk.lstrip())
        spans.append(Span(start + lead, start + lead + len(stripped), stripped))
