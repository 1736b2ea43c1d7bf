"""Word folding and sentence splitting shared by rules and the classifier."""

import pytest

from monitor.text.normalize import stem, tokenize, words
from monitor.text.sentences import split_sentences

# U+FDFA decomposes to four Arabic words: one token, never a token with spaces inside.
ARABIC_PHRASE_AS_ONE_WORD = (
    "\u0635\u0644\u0649\u0627\u0644\u0644\u0647\u0639\u0644\u064a\u0647\u0648\u0633\u0644\u0645"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Syria\u2019s cease-fire", ["syria", "cease", "fire"]),
        ("cease\u2013fire \u201ctruce\u201d", ["cease", "fire", "truce"]),
        ("Muall\u00e9m \u1e24alab Stra\u00dfe \u0153uvre", ["muallem", "halab", "strasse", "oeuvre"]),
        ("don't O'Brien's", ["dont", "obrien"]),
        ("U.S. 20_000", ["u", "s", "20", "000"]),
        ("\ufdfa", [ARABIC_PHRASE_AS_ONE_WORD]),
    ],
)
def test_words_are_folded_alike(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_offsets_point_into_the_original_text() -> None:
    text = "Le cessez-le-feu \u00e0 Alep, Syria\u2019s offer."
    tokens = tokenize(text)
    assert [text[s:e] for s, e in zip(tokens.starts, tokens.ends, strict=True)] == [
        "Le",
        "cessez",
        "le",
        "feu",
        "\u00e0",
        "Alep",
        "Syria\u2019s",
        "offer",
    ]
    assert tokens.raws[0] == "Le" and tokens.norms[0] == "le"


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("swaps", "swap"),
        ("truces", "truce"),
        ("casualties", "casualty"),
        ("ceasefires", "ceasefire"),
        ("marches", "march"),
        ("boxes", "box"),
        ("talks", "talk"),
        ("crisis", "crisis"),
        ("bus", "bus"),
        ("press", "press"),
        ("gas", "gas"),
        ("shelling", "shelling"),
    ],
)
def test_stem_undoes_simple_plurals_only(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_sentences_keep_offsets_and_respect_abbreviations_headlines_and_wrapped_lines() -> None:
    text = (
        "# Syria Proposes Aleppo Ceasefire\n"
        "By Staff\n\n"
        "Mr. Al Muallem said the U.S. plan failed. Talks resume\n"
        "on Monday in Geneva, officials said on Friday night.\n"
        "- Prisoners were listed\n"
    )
    spans = split_sentences(text)
    assert [s.text for s in spans] == [
        "# Syria Proposes Aleppo Ceasefire",
        "By Staff",
        "Mr. Al Muallem said the U.S. plan failed.",
        "Talks resume\non Monday in Geneva, officials said on Friday night.",
        "- Prisoners were listed",
    ]
    assert all(text[s.start : s.end] == s.text for s in spans)


def test_abbreviations_are_read_past_any_run_of_closing_marks() -> None:
    # "No." is an abbreviation (No. 10), however many marks follow it...
    assert len(split_sentences("He said no!!!!!!!!!!!!!!!!!!!! Then he left.")) == 1
    assert len(split_sentences("He said no. . . . . . . . Then he left.")) == 1
    # ...but a long word ending in the letters of one is not.
    assert len(split_sentences("Watch " + "a" * 20 + "mr" + ")" * 13 + ". Next one.")) == 2
