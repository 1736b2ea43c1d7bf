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


def _case_class(char: str) -> str:
    """Characters that ``re.IGNORECASE`` matches alike share a class: casefold, plus the Turkish i's,
    which the regex engine equates with ``i`` although casefold does not."""
    return "i" if char in "ıİ" else char.casefold()


def _compile(terms: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for all terms, each in a named group ``t<index>`` so a hit says which term it is.

    The word-start test comes once, before the alternation, and terms are grouped under their first
    character (each term starts with a letter or digit: the topics schema checks it), so at each word
    start the scan tests one character per group instead of trying every term: about 10x faster than
    one lookbehind per term on an article. Terms of one group keep their order, and terms of different
    groups cannot match at the same position, so the hits are those of the plain alternation.
    """
    groups: dict[str, tuple[str, list[str]]] = {}
    for index, term in enumerate(terms):
        pattern = _term_pattern(term)
        rests = groups.setdefault(_case_class(pattern[0]), (pattern[0], []))[1]
        rests.append(f"(?P<t{index}>{pattern[1:]})")
    alternation = "|".join(f"{first}(?:{'|'.join(rests)})" for first, rests in groups.values())
    return re.compile(rf"\b(?:{alternation})(?!\w)", re.IGNORECASE)


class Lexicon:
    """A compiled set of terms; one regex scan finds every term, reporting which one matched."""

    def __init__(self, terms: Iterable[str]) -> None:
        self.terms: tuple[str, ...] = tuple(dict.fromkeys(t.strip() for t in terms if t.strip()))
        self._pattern = _compile(self.terms) if self.terms else None

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
