"""Cue and veto terms: what a term finds, and what a topics file may not say."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from monitor.classify.classifier import _gate
from monitor.classify.lexicon import Lexicon, _term_pattern
from monitor.classify.topics import Topic
from monitor.classify.units import units


def found(terms: list[str], text: str) -> list[str]:
    return [text[hit.start : hit.end] for hit in Lexicon(terms).find(text)]


def test_words_find_their_plurals_only_at_word_boundaries() -> None:
    assert found(["truce", "POW"], "Two truces; 300 POWs freed; power cut; a truce-like calm") == [
        "truces",
        "POWs",
        "truce",
    ]


def test_prefix_terms_and_dash_or_space_joined_phrases() -> None:
    text = "Shelling resumed after the cease-fire; an eggshell; cease fire; cease—fire"
    assert found(["shell*", "cease fire"], text) == ["Shelling", "cease-fire", "cease fire", "cease—fire"]


def test_hits_report_the_term_that_matched() -> None:
    hits = Lexicon(["rocket*", "fired into"]).find("Rockets were fired into Israel.")
    assert [hit.term for hit in hits] == ["rocket*", "fired into"]


def test_an_empty_lexicon_is_false_and_finds_nothing() -> None:
    assert not Lexicon([" "]) and Lexicon([" "]).find("anything") == []


@pytest.mark.parametrize("term", ["-truce", "$200", "'s"])
def test_terms_must_start_with_a_letter_or_digit(term: str) -> None:
    with pytest.raises(ValidationError, match="must start with a letter or digit"):
        Topic(name="t", description="d", examples=("x",), cues=(term,))
    with pytest.raises(ValidationError, match="must start with a letter or digit"):
        Topic(name="t", description="d", examples=("x",), lead_vetoes=(term,))


_WORDS = st.sampled_from(
    [
        "truce",
        "Truce",
        "cease",
        "fire",
        "ceasefire",
        "shell",
        "shells",
        "eggshell",
        "c",
        "İs",
        "ıb",
        "ib",
        "9th",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    terms=st.lists(
        st.builds(
            lambda words, joiner, star: joiner.join(words) + ("*" if star else ""),
            st.lists(_WORDS, min_size=1, max_size=2),
            st.sampled_from([" ", "-"]),
            st.booleans(),
        ),
        min_size=1,
        max_size=6,
    ),
    text=st.lists(st.one_of(_WORDS, st.sampled_from([" ", "-", ", ", "s", "—"])), max_size=30).map("".join),
)
def test_hits_equal_a_plain_alternation_with_one_lookbehind_per_term(terms: list[str], text: str) -> None:
    """The grouped pattern is an optimisation only: it must find what the obvious pattern finds."""
    lexicon = Lexicon(terms)
    plain = re.compile(
        "|".join(f"(?<!\\w)(?P<t{i}>{_term_pattern(t)})(?!\\w)" for i, t in enumerate(lexicon.terms)),
        re.IGNORECASE,
    )
    expected = [(m.start(), m.end(), lexicon.terms[int(str(m.lastgroup)[1:])]) for m in plain.finditer(text)]
    assert [tuple(hit) for hit in lexicon.find(text)] == expected


_PIECES = st.sampled_from(
    ["search", "and", "rescue", "cease", "fire", "ceasefire", "truce", "Rockets", "fired", "into", "Israel"]
)


@settings(max_examples=300, deadline=None)
@given(
    # Mostly spaces: clause windows exist only in sentences of more than 22 words.
    words=st.lists(
        st.tuples(_PIECES, st.sampled_from([" "] * 8 + [" - ", ", ", ". ", "; ", " and ", "-"])),
        min_size=20,
        max_size=80,
    ),
    cues=st.lists(
        st.sampled_from(["search and rescue", "rescue", "cease-fire", "truce", "rocket*", "fire"]), min_size=1
    ),
)
def test_gating_by_one_scan_equals_searching_every_unit(
    words: list[tuple[str, str]], cues: list[str]
) -> None:
    """Clause windows overlap their sentences and cut phrases: the one-scan gate must not notice."""
    text = "".join(word + gap for word, gap in words)
    lexicon = Lexicon(cues)
    found = units(text)
    assert _gate(lexicon, text, found) == [bool(lexicon.find(unit.text)) for unit in found]
