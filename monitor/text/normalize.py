"""Word tokens with character offsets, folded the same way for rule queries, articles and the classifier.

One function, :func:`tokenize`, decides what a "word" is for the whole project, so that a query term and the
text it should find always go through identical folding:

- words are runs of letters and digits (any script); every other character separates words, so all
  Unicode dashes, quotes and punctuation split alike (``cease-fire`` and ``cease–fire`` are ``cease fire``);
- an apostrophe (straight or typographic) inside a word is kept out of it, after a possessive ``'s`` is
  dropped: ``Syria’s`` → ``syria``, ``don't`` → ``dont``;
- diacritics are removed (``Ḥalab`` → ``halab``, ``Muallem`` = ``Muallém``), ligatures and ``ß`` expanded;
- ``norm`` is the folded lower-case word; ``raw`` keeps the case for case-sensitive terms;
- ``stem`` strips a simple English plural or third-person ``-s`` (``swaps``/``swap``, ``truces``/``truce``,
  ``casualties``/``casualty``, ``ceasefires``/``ceasefire``), nothing more: ``-ing`` and ``-ed`` forms are
  different words, which analysts reach with a wildcard.
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Letters and digits of any script; an apostrophe only between two of them (O'Brien, Syria’s).
_WORD = re.compile(r"[^\W_]+(?:['’ʼ][^\W_]+)*")
_APOSTROPHES = ("'", "’", "ʼ")
_SPECIAL_LETTERS = str.maketrans(
    {"ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L"}
    | {"đ": "d", "Đ": "D", "ı": "i", "þ": "th", "Þ": "TH"}
)


def fold_word(word: str) -> str:
    """Remove diacritics, expand ligatures and drop apostrophes (after a possessive), keeping case."""
    if not word.isascii():
        # NFKD splits accents off as combining marks, which are not alphanumeric; a few compatibility
        # characters decompose to several words (U+FDFA), whose spaces must not reach a token either.
        decomposed = unicodedata.normalize("NFKD", word.translate(_SPECIAL_LETTERS))
        word = "".join(
            "'" if ch in _APOSTROPHES else ch for ch in decomposed if ch.isalnum() or ch in _APOSTROPHES
        )
    if "'" in word:
        if word[-2:].lower() == "'s":
            word = word[:-2]
        word = word.replace("'", "")
    return word


@lru_cache(maxsize=1 << 16)
def stem(norm: str) -> str:
    """Undo a simple plural: the same rule for text and queries, so ``swap`` finds ``swaps``."""
    if len(norm) > 4 and norm.endswith("ies"):
        return norm[:-3] + "y"
    if len(norm) > 3 and norm.endswith(("ches", "shes", "sses", "xes", "zes")):
        return norm[:-2]
    if len(norm) > 3 and norm.endswith("s") and not norm.endswith(("ss", "us", "is")):
        return norm[:-1]
    return norm


@dataclass(frozen=True, slots=True)
class Tokens:
    """Parallel lists, one entry per word: offsets into the tokenised text and three folded forms."""

    starts: list[int]
    ends: list[int]
    raws: list[str]
    norms: list[str]
    stems: list[str]

    def __len__(self) -> int:
        return len(self.starts)


def tokenize(text: str) -> Tokens:
    """Split ``text`` into folded words; offsets always point into ``text`` as given."""
    starts: list[int] = []
    ends: list[int] = []
    raws: list[str] = []
    for match in _WORD.finditer(text):
        start, end = match.span()
        word = match.group()
        if not word.isascii() or "'" in word:
            word = fold_word(word)
            if not word:
                continue
        starts.append(start)
        ends.append(end)
        raws.append(word)
    norms = [raw.lower() for raw in raws]
    return Tokens(starts, ends, raws, norms, list(map(stem, norms)))


def words(text: str) -> list[str]:
    """The folded lower-case words of ``text``: what a query term or topic cue means."""
    return tokenize(text).norms
