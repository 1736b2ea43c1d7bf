"""The query language's documented behaviour, one example each, with the evidence it returns."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.ingest.article import Article
from monitor.rules.engine import KeySpans
from monitor.rules.model import Rule
from monitor.rules.query import QueryError, parse
from monitor.rules.ruleset import RuleSet
from monitor.text.normalize import tokenize


def article(
    text: str, *, title: str | None = None, source: str | None = None, lang: str | None = None
) -> Article:
    return Article(
        id="0" * 64,
        path=Path("a.txt"),
        received_at=datetime.now(UTC),
        text=text,
        title=title,
        source=source,
        language=lang,
    )


def fires(query: str, text: str, **meta: str) -> bool:
    ruleset = RuleSet([Rule(id="r", title="r", level="low", query=query)])
    return bool(ruleset.match(article(text, **meta)))


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("ceasefire", "They agreed a cease-fire.", True),
        ("ceasefire", "They agreed a cease fire.", True),
        ("ceasefire", "They agreed a cease\u2013fire.", True),
        ('"cease fire"', "The ceasefire held.", True),
        ("swap", "Prisoner swaps were agreed.", True),
        ("casualty", "Casualties were heavy.", True),
        ("syria", "Syria\u2019s foreign minister spoke.", True),
        ("muallem", "Walid al-Muall\u00e9m spoke.", True),
        ("ceasefir*", "Ceasefires collapsed.", True),
        ("ceasefir*", "The cease-fires collapsed.", True),
        ("shelling", "Fans shelled out $40.", False),
        ('"prisoner swap"', "The swap of a prisoner.", False),
        ("truce NEAR/2 aleppo", "A truce in the city of Aleppo.", False),
        ("truce NEAR/4 aleppo", "A truce in the city of Aleppo.", True),
        ("aleppo NEAR/4 truce", "A truce in the city of Aleppo.", True),
        ("aleppo ONEAR/4 truce", "A truce in the city of Aleppo.", False),
        ("SENTENCE(truce AND aleppo)", "A truce was agreed. Aleppo was calm.", False),
        ("SENTENCE(truce AND aleppo)", "A truce was agreed in Aleppo. Calm.", True),
        ("truce AND aleppo", "A truce was agreed. Aleppo was calm.", True),
        ("truce AND NOT trade", "A truce in the trade war.", False),
        ("truce OR armistice", "The armistice was signed.", True),
        ('case:"US" AND aid', "US aid arrives.", True),
        ('case:"US" AND aid', "Give us aid.", False),
        ("us AND aid", "Give us aid.", True),
    ],
)
def test_language(query: str, text: str, expected: bool) -> None:
    assert fires(query, text) is expected


def test_title_zone_is_the_first_line_when_it_repeats_the_title() -> None:
    text = "Gaza truce holds\n\nThe guns are silent."
    assert fires("title:truce", text, title="Gaza truce holds")
    assert not fires("title:silent", text, title="Gaza truce holds")
    assert fires("text:silent", text, title="Gaza truce holds")
    assert not fires("title:truce", text)  # no title known: no title zone


def test_title_outside_the_text_is_searched_as_the_title_zone() -> None:
    assert fires("title:truce", "The guns are silent.", title="Gaza truce holds")
    assert not fires("title:guns", "The guns are silent.", title="Gaza truce holds")


def test_metadata_filters() -> None:
    assert fires("truce AND source:reuters", "A truce.", source="Thomson Reuters")
    assert not fires("truce AND source:reuters", "A truce.", source="Associated Press")
    assert fires('truce AND source:"associated press"', "A truce.", source="The Associated Press")
    assert fires("truce AND lang:en", "A truce.", lang="en-GB")
    assert not fires("truce AND lang:en", "A truce.", lang="fr")


def test_evidence_quotes_the_sentence_with_offsets_into_the_original_text() -> None:
    text = "Talks resumed.\n\nSyria offered a cease-fire in Aleppo on Friday. Nothing else."
    ruleset = RuleSet([Rule(id="r", title="r", level="low", query="ceasefire NEAR/3 aleppo")])
    [hit] = ruleset.match(article(text))
    [evidence] = hit.evidence
    assert evidence.text == "Syria offered a cease-fire in Aleppo on Friday."
    assert text[evidence.start : evidence.end] == evidence.text
    marks = [(evidence.text[h.start : h.end], h.term) for h in evidence.highlights]
    assert marks == [("cease-fire", "ceasefire"), ("Aleppo", "aleppo")]


def test_only_candidate_rules_are_evaluated_and_disabled_rules_never_fire() -> None:
    ruleset = RuleSet(
        [
            Rule(id="a", title="a", level="low", query="truce AND aleppo"),
            Rule(id="b", title="b", level="low", query="swap"),
            Rule(id="c", title="c", level="low", query="truce", enabled=False),
            Rule(id="t", title="t", level="low", topic="ceasefire"),
        ]
    )
    assert [h.rule.id for h in ruleset.match(article("A truce in Aleppo."))] == ["a"]
    assert ruleset.unindexed == ()


@pytest.mark.parametrize(
    ("query", "pos", "message"),
    [
        ("truce NEAR5 aleppo", 6, "unknown operator 'NEAR5'; did you mean NEAR/5?"),
        ("truce W/3 aleppo", 6, "did you mean NEAR/3?"),
        ("truce aleppo", 6, "missing operator between 'truce' and 'aleppo'"),
        ("truce and aleppo", 6, "operators are written in capitals (AND)"),
        ("(truce OR aleppo", 16, "missing ')'"),
        ("truce)", 5, "unmatched ')'"),
        ('"cease fire', 0, "unclosed quote"),
        ("NOT truce", 0, "must require at least one term"),
        ("ce*", 0, "at least 3 letters"),
        ("cea*fire", 3, "only a trailing *"),
        ("author:smith", 0, "unknown field 'author'"),
        ("truce NEAR/500 aleppo", 6, "at most 100 words"),
        ("", 0, "empty query"),
        ("truce AND (aleppo AND NOT) ", 25, "')' where a term was expected"),
        ("(" * 100 + "truce" + ")" * 100, 65, "nests more than 64 levels"),
    ],
)
def test_located_parse_errors(query: str, pos: int, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(query)
    assert message in caught.value.message
    assert caught.value.pos == pos


def test_rules_naming_the_same_term_share_its_matcher_but_not_their_zones_or_verdicts() -> None:
    """One compiled matcher per distinct term serves every rule; each keeps its own zone and structure."""
    ruleset = RuleSet(
        [
            Rule(id="any", title="t", level="low", query="truce"),
            Rule(id="title", title="t", level="low", query="title:truce"),
            Rule(id="sentence", title="t", level="low", query="SENTENCE(truce AND aleppo)"),
            Rule(id="both", title="t", level="low", query="truce AND aleppo"),
            Rule(id="without", title="t", level="low", query="truce AND NOT aleppo"),
        ]
    )
    text = "Calm returns\n\nA truce was agreed. Aleppo was calm."
    hits = {h.rule.id: h for h in ruleset.match(article(text, title="Calm returns"))}
    assert sorted(hits) == ["any", "both"]
    assert [e.text for e in hits["both"].evidence] == ["A truce was agreed.", "Aleppo was calm."]
    assert [e.text for e in hits["any"].evidence] == ["A truce was agreed."]


def test_a_filter_inside_sentence_holds_in_any_sentence() -> None:
    assert fires("truce AND SENTENCE(source:reuters)", "A truce. Calm.", source="Reuters")
    assert not fires("truce AND SENTENCE(source:reuters)", "A truce. Calm.", source="AP")


def test_positions_of_the_announced_words_and_of_a_word_nobody_announced() -> None:
    spans = KeySpans(tokenize("Truce talks: a truce, then talks about the truce lines"))
    spans.index_words(["truce", "ceasefire"])
    assert list(spans.positions("truce")) == [0, 3, 8]
    assert list(spans.positions("ceasefire")) == []
    assert list(spans.positions("talk")) == [1, 5]  # not announced: the whole article is indexed then
    assert list(spans.positions("truce")) == [0, 3, 8]
    assert list(spans.positions("line")) == [9]
