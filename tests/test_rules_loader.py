"""Rule files: every problem reported at file:line:column with what to do, and all-or-nothing loading."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.ingest.article import Article
from monitor.rules import RuleSetError, load_rules
from monitor.rules.query import unparse

GOOD = """\
- id: aleppo-ceasefire
  title: Ceasefire around Aleppo
  level: high
  topic: ceasefire
  query: ceasefire AND aleppo
  notify: [analysts]
  realert: 6h
  tests:
    match: ["Syria offered a ceasefire in Aleppo."]
"""


def load(rules_dir: Path) -> list[str]:
    try:
        ruleset = load_rules(rules_dir, known_topics={"ceasefire"}, known_destinations={"analysts"})
    except RuleSetError as exc:
        return [str(e).removeprefix(str(rules_dir) + "/") for e in exc.errors]
    return [r.id for r in ruleset.rules]


def article(text: str) -> Article:
    return Article(id="0" * 64, path=Path("a.txt"), received_at=datetime.now(UTC), text=text)


def test_valid_files_load_and_topics_and_benign_folder_are_not_rules(tmp_path: Path) -> None:
    (tmp_path / "syria.yaml").write_text(GOOD)
    (tmp_path / "topics.yaml").write_text("topics: [not, a, rule, list]\n")
    (tmp_path / "benign").mkdir()
    (tmp_path / "benign" / "x.yaml").write_text("not: rules\n")
    (tmp_path / ".syria.yaml.swp").write_text("garbage")
    assert load(tmp_path) == ["aleppo-ceasefire"]
    rule = load_rules(tmp_path).rules[0]
    assert rule.realert is not None and rule.realert.total_seconds() == 6 * 3600


@pytest.mark.parametrize(
    ("replace", "by", "error"),
    [
        (
            "query: ceasefire AND aleppo",
            "query: ceasefire NEAR5 aleppo",
            "syria.yaml:5:20: unknown operator 'NEAR5'; did you mean NEAR/5?",
        ),
        (
            "query: ceasefire AND aleppo",
            "query: 'ceasefire AND ''x'' aleppo'",
            "syria.yaml:5:31: missing operator between",
        ),
        (
            "topic: ceasefire",
            "topic: ceasfire",
            "syria.yaml:4:10: unknown topic 'ceasfire' (not in topics.yaml); did you mean 'ceasefire'?",
        ),
        ("notify: [analysts]", "notify: [analysts, ops]", "syria.yaml:6:22: unknown destination 'ops'"),
        ("level: high", "level: urgent", "syria.yaml:3:10: level: Input should be 'informational'"),
        ("realert: 6h", "realert: six hours", "syria.yaml:7:12: realert: 'six hours' is not a duration"),
        ("realert: 6h", "realret: 6h", "syria.yaml:7:3: unknown key 'realret'; did you mean 'realert'?"),
        ("  title: Ceasefire around Aleppo\n", "", "syria.yaml:1:3: missing required key 'title'"),
        ("  topic: ceasefire\n", "  min_score: 0.5\n", "syria.yaml:1:3: rule: min_score applies to a topic"),
        (
            "- id: aleppo-ceasefire\n",
            "- id: Aleppo Ceasefire\n",
            "syria.yaml:1:7: id: String should match pattern",
        ),
        ("  level: high\n", "  level: high\n   bad: [\n", "syria.yaml:4:"),
    ],
)
def test_located_errors(tmp_path: Path, replace: str, by: str, error: str) -> None:
    assert replace in GOOD
    (tmp_path / "syria.yaml").write_text(GOOD.replace(replace, by))
    errors = load(tmp_path)
    assert any(e.startswith(error) or error in e for e in errors), errors


def test_query_errors_are_located_inside_block_scalars(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        "- id: r\n  title: r\n  level: low\n  query: >-\n    ceasefire OR truce\n    OR (aleppo AND\n"
    )
    assert load(tmp_path) == ["r.yaml:6:19: the query ends where a term was expected"]


def test_duplicate_ids_across_files_and_every_error_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD + "- just a string\n")
    (tmp_path / "c.yaml").write_text("id: not-a-list\n")
    errors = load(tmp_path)
    assert errors == [
        f"b.yaml:1:7: duplicate rule id 'aleppo-ceasefire' (first defined at {tmp_path}/a.yaml:1)",
        "b.yaml:10:3: each rule is a mapping of keys (id:, title:, ...)",
        "c.yaml:1:1: a rule file is a list of rules: start each rule with '- id: ...'",
    ]


def test_one_bad_file_fails_the_whole_set(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD.replace("aleppo-ceasefire", "other").replace("AND aleppo", "AND"))
    with pytest.raises(RuleSetError) as caught:
        load_rules(tmp_path)
    assert len(caught.value.errors) == 1
    assert str(caught.value).startswith(f"{tmp_path}/b.yaml:5:")


def test_unreadable_and_missing(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_bytes(b"- id: \xff\xfe\n")
    assert load(tmp_path) == ["bad.yaml:1:1: not UTF-8 text"]
    assert load(tmp_path / "nowhere") == [f"{tmp_path}/nowhere:1:1: rules folder not found"]


LISTS = """\
# shared by the rules
nationalities: [Syrian, Lebanese, South Korean]
weapons: [shell*, rocket*]
"""


def test_a_named_list_stands_for_the_or_of_its_terms_and_several_words_are_a_phrase(tmp_path: Path) -> None:
    (tmp_path / "lists.yaml").write_text(LISTS)
    (tmp_path / "r.yaml").write_text(
        "- id: r\n  title: r\n  level: low\n  query: '@weapons ONEAR/4 (@nationalities ONEAR/1 villages)'\n"
    )
    ruleset = load_rules(tmp_path)
    assert [r.id for r in ruleset.rules] == ["r"]  # lists.yaml itself is not a rule file
    # explanations print the list by its name, not its 61 terms
    assert unparse(ruleset.compiled[0].node) == "@weapons ONEAR/4 (@nationalities ONEAR/1 villages)"

    def hits(text: str) -> bool:
        return bool(ruleset.match(article(text)))

    assert hits("Artillery shells hit Lebanese villages overnight.")
    assert hits("Rockets struck South Korean villages near the sea border.")
    assert not hits("Rockets struck Korean villages in the south.")  # "South Korean" is one phrase
    assert not hits("Rockets struck Jordanian villages.")  # not in the list


@pytest.mark.parametrize(
    ("lists", "query", "error"),
    [
        (
            LISTS,
            "'@nationalitys AND truce'",
            "r.yaml:4:11: unknown list '@nationalitys' (not in lists.yaml); did you mean '@nationalities'?",
        ),
        (
            None,
            "'@weapons AND truce'",
            "r.yaml:4:11: unknown list '@weapons' (not in lists.yaml); known: none",
        ),
        (
            LISTS,
            "'@Weapons AND truce'",
            "r.yaml:4:11: '@Weapons': @ names a term list, whose name is lower case",
        ),
        (
            LISTS.replace("rocket*]", "ro*]"),
            "truce",
            "lists.yaml:3:19: in list 'weapons': 'ro*': a wildcard needs at least 3",
        ),
        (
            LISTS.replace("rocket*]", "title:truce]"),
            "truce",
            "lists.yaml:3:19: in list 'weapons': 'title:truce': an entry is one term",
        ),
        (
            LISTS.replace("rocket*]", "heavy ro*]"),
            "truce",
            "lists.yaml:3:25: in list 'weapons': 'ro*': a wildcard needs at least 3",
        ),
        (
            LISTS.replace("rocket*]", "'@nationalities']"),
            "truce",
            "lists.yaml:3:19: in list 'weapons': '@nationalities': a list cannot name another list",
        ),
        (
            LISTS.replace("rocket*]", "1984]"),
            "truce",
            "lists.yaml:3:19: in list 'weapons': '1984' is not text",
        ),
        ("weapons: rocket\n", "truce", "lists.yaml:1:1: list 'weapons' needs a non-empty list of terms"),
        ("- rocket\n", "truce", "lists.yaml:1:1: lists.yaml maps each list name to its terms"),
    ],
)
def test_list_errors_are_located_in_the_rule_or_in_lists_yaml(
    tmp_path: Path, lists: str | None, query: str, error: str
) -> None:
    if lists is not None:
        (tmp_path / "lists.yaml").write_text(lists)
    (tmp_path / "r.yaml").write_text(f"- id: r\n  title: r\n  level: low\n  query: {query}\n")
    errors = load(tmp_path)
    assert any(e.startswith(error) for e in errors), errors


def test_a_broken_lists_yaml_is_reported_once_not_in_every_rule_that_uses_it(tmp_path: Path) -> None:
    (tmp_path / "lists.yaml").write_text("weapons: [shell*, rocket*\n")  # unclosed
    (tmp_path / "a.yaml").write_text("- id: a\n  title: a\n  level: low\n  query: '@weapons AND truce'\n")
    (tmp_path / "b.yaml").write_text("- id: b\n  title: b\n  level: low\n  query: '@weapons AND lull'\n")
    errors = load(tmp_path)
    assert len(errors) == 1 and errors[0].startswith("lists.yaml:"), errors


def test_list_entries_may_carry_query_style_quotes(tmp_path: Path) -> None:
    (tmp_path / "lists.yaml").write_text("""sides: ['"South Korean"', '"Lebanese"']\n""")
    (tmp_path / "r.yaml").write_text("- id: r\n  title: r\n  level: low\n  query: '@sides ONEAR/1 towns'\n")
    ruleset = load_rules(tmp_path)
    assert ruleset.match(article("Shells hit South Korean towns."))
    assert ruleset.match(article("Shells hit Lebanese towns."))
