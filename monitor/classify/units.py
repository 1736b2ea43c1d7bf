"""Scoring units: sentences and, inside long sentences, clause windows.

A short mention inside a long sentence ("... and exchange detainees with opposition forces") is diluted in
the sentence's embedding; scoring the clause on its own lets it count. Offsets always point into the text
the units were cut from, so evidence can be shown in place.
"""

import re
from typing import NamedTuple

from monitor.text.sentences import split_sentences

# Sentences up to this many words are scored whole only; longer ones also get clause windows.
LONG_SENTENCE_WORDS = 22
# A clause window spans at least this many words (short fragments carry too little meaning to embed).
MIN_WINDOW_WORDS = 5
# No unit is longer than this many characters: it bounds the tokens per unit (and so the model's cost).
MAX_UNIT_CHARS = 600

_CLAUSE_BREAK = re.compile(
    r"\s*[;:—–]\s*|,\s+|\s+-\s+|\s+(?=(?:and|but|while|whereas|after|before|as|which|who|when|where|"
    r"amid|following|despite|although|though|because|since|including)\s)",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")


class Unit(NamedTuple):
    start: int
    end: int
    text: str
    sentence: int
    """Index of the sentence the unit belongs to."""


def _words(text: str) -> int:
    return len(_WORD.findall(text))


def _clauses(text: str, base: int) -> list[tuple[int, int]]:
    """Clause pieces of one sentence as absolute (start, end) spans."""
    pieces: list[tuple[int, int]] = []
    start = 0
    for brk in _CLAUSE_BREAK.finditer(text):
        if brk.start() > start:
            pieces.append((base + start, base + brk.start()))
        start = brk.end()
    if start < len(text):
        pieces.append((base + start, base + len(text)))
    return pieces


def _windows(text: str, sentence_start: int) -> list[tuple[int, int]]:
    """Windows of consecutive clauses, each grown to at least MIN_WINDOW_WORDS words."""
    pieces = _clauses(text, sentence_start)
    if len(pieces) < 2:
        return []
    windows: list[tuple[int, int]] = []
    for i, (start, end) in enumerate(pieces):
        j = i
        while _words(text[start - sentence_start : end - sentence_start]) < MIN_WINDOW_WORDS and j + 1 < len(
            pieces
        ):
            j += 1
            end = pieces[j][1]
        window = (start, end)
        if (not windows or window[1] > windows[-1][1]) and _words(
            text[start - sentence_start : end - sentence_start]
        ) >= MIN_WINDOW_WORDS:
            windows.append(window)
    whole = (sentence_start, sentence_start + len(text))
    return [w for w in windows if w != whole]


def units(text: str) -> list[Unit]:
    """Sentences, plus clause windows of long sentences; capped in length, offsets into ``text``."""
    out: list[Unit] = []
    for index, sentence in enumerate(split_sentences(text)):
        spans = [(sentence.start, sentence.end)]
        if _words(sentence.text) > LONG_SENTENCE_WORDS:
            spans.extend(_windows(sentence.text, sentence.start))
        for start, end in spans:
            end = min(end, start + MAX_UNIT_CHARS)
            chunk = text[start:end]
            stripped = chunk.strip(" \t\r\n,;:")
            if not stripped:
                continue
            lead = chunk.find(stripped)
            out.append(Unit(start + lead, start + lead + len(stripped), stripped, index))
    return out
