"""Cue and veto terms: the lexical signal that gates, explains and vetoes the classifier's scores.

A term is a word or phrase matched case-insensitively at word boundaries. Words inside a phrase may be
joined by spaces or any dash (``cease-fire`` finds ``cease fire`` and ``ceasefire`` needs its own entry),
a plain word also finds its plural (``truce`` finds ``truces``), and a trailing ``*`` makes the last word a
prefix (``shell*`` finds ``shelled`` and ``shelling``).
"""

import re
from collections.abc import Iterable
from typing import NamedTuple

_JOINER = r"[\s\-‐‑‒–—]+"


class TermHit(NamedTuple):
    start: int
    end: int
    term: str


def _term_pattern(term: str) -> str:
    text = term.strip()
    prefix = text.endswith("*")
    words = [re.escape(w) for w in re.split(_JOINER, text.rstrip("*").strip()) if w]
    return _JOINER.join(words) + (r"\w*" if prefix else r"(?:e?s)?")


class Lexicon:
    """A compiled set of terms; one regex scan finds every term, reporting which one matched."""

    def __init__(self, terms: Iterable[str]) -> None:
        self.terms: tuple[str, ...] = tuple(dict.fromkeys(t.strip() for t in terms if t.strip()))
        self._pattern = (
            re.compile(
                # One word-boundary test before the alternation, not one per term: the scan then tries
                # the terms only where a word starts, 3-5x faster on an article than per-term lookbehinds.
                r"\b(?:"
                + "|".join(f"(?P<t{i}>{_term_pattern(t)})" for i, t in enumerate(self.terms))
                + r")(?!\w)",
                re.IGNORECASE,
            )
            if self.terms
            else None
        )

    def __bool__(self) -> bool:
        return self._pattern is not None

    def find(self, text: str) -> list[TermHit]:
        """Every non-overlapping hit, leftmost first; offsets are relative to ``text``."""
        if self._pattern is None:
            return []
        hits: list[TermHit] = []
        for match in self._pattern.finditer(text):
            group = match.lastgroup
            if group is not None:
                hits.append(TermHit(match.start(), match.end(), self.terms[int(group[1:])]))
        return hits
