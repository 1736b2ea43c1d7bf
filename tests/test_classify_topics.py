"""The classifier on the samples, paraphrases, hard negatives, long sentences and edited topic files."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from monitor.classify import Classifier
from monitor.classify.embedder import MAX_TOKENS

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier.load(RULES)


def matched(classifier: Classifier, text: str) -> set[str]:
    return {name for name, result in classifier.classify(text).items() if result.match}


def test_samples_match_ceasefire_and_prisoner_exchange_and_only_two_cross_border(
    classifier: Classifier,
) -> None:
    assert len(SEEDS) == 5
    results = {p.name[:3]: matched(classifier, p.read_text(encoding="utf-8")) for p in SEEDS}
    for name, topics in results.items():
        assert {"ceasefire", "prisoner_exchange"} <= topics, name
    # 000 and 001 report shells fired from Syria into Lebanon/Turkey; 003 is barrel bombs inside Aleppo.
    assert {n for n, topics in results.items() if "cross_border_shelling" in topics} == {"000", "001"}


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        (
            "The guns fell silent over the frontline towns at dawn, a day after both armies accepted it.",
            "ceasefire",
        ),
        (
            "Kyiv said it had repatriated 300 POWs on Friday in the latest exchange with Moscow.",
            "prisoner_exchange",
        ),
        (
            "Israel began releasing 250 Palestinian prisoners on Monday as a gesture to President Abbas.",
            "prisoner_exchange",
        ),
        (
            "Militants fired a barrage of rockets from Gaza at Ashkelon late on Monday.",
            "cross_border_shelling",
        ),
        (
            "The Houthis said they fired two ballistic missiles from Yemen into Saudi Arabia overnight.",
            "cross_border_shelling",
        ),
        (
            "Two soldiers were wounded by mortar fire across the line of contact near Horlivka.",
            "cross_border_shelling",
        ),
    ],
)
def test_paraphrases_without_the_topic_word_match(classifier: Classifier, text: str, topic: str) -> None:
    assert topic in matched(classifier, text)


@pytest.mark.parametrize(
    "text",
    [
        "Lawmakers struck a budget truce on Thursday, averting a government shutdown until March.",
        "Veterans laid wreaths at the cenotaph on Armistice Day as the nation fell silent.",
        "The governor granted parole to 40 inmates and an amnesty freed thousands more from county jails.",
        "Police freed three hostages after a six-hour stand-off with a gunman at a bank in the city centre.",
        "Shoppers shelled out a record $10 billion online on Cyber Monday.",
        "The prisoner's dilemma explains why rival firms keep cutting prices.",
        "The army shelled rebel positions in the north of the country, killing dozens of fighters.",
        "Hezbollah boasted its rockets can reach Tel Aviv.",
        "Syria warned that its Scud missiles could reach any Israeli city.",
        "Suspected militants have kidnapped an Iraqi intelligence officer in response to fighting in Najaf.",
        "A private team's rocket exploded on launch in its bid for the Ansari X Prize for spaceflight.",
    ],
)
def test_hard_negatives_match_no_topic(classifier: Classifier, text: str) -> None:
    assert matched(classifier, text) == set()


def test_a_short_mention_inside_a_long_sentence_counts_as_its_clause(classifier: Classifier) -> None:
    text = (
        "The foreign minister, who spoke for more than an hour about terrorism, foreign interference, the "
        "economy, reconstruction, the sanctions imposed by Western governments and the need for elections "
        "under the current constitution, said Damascus was ready to open aid corridors into the old city "
        "and exchange detainees with opposition forces."
    )
    result = classifier.classify(text)["prisoner_exchange"]
    assert result.match
    # The clause alone reaches the threshold: the mention counts whatever the rest of the sentence says.
    analysis = classifier.analyse(text)
    scores = analysis.topics["prisoner_exchange"].scores
    clauses = [
        float(score)
        for unit, score in zip(analysis.units, scores, strict=True)
        if "exchange detainees" in unit.text and len(unit.text) < len(text) / 2
    ]
    assert clauses and max(clauses) >= result.threshold


def test_evidence_offsets_point_into_the_text(classifier: Classifier) -> None:
    for path in SEEDS:
        text = path.read_text(encoding="utf-8")
        for result in classifier.classify(text, title="A title that is not in the text").values():
            for evidence in result.evidence:
                assert text[evidence.start : evidence.end] == evidence.text
                for h in evidence.highlights:
                    assert evidence.text[h.start : h.end].lower().startswith(h.term.rstrip("*").lower()[:4])


def test_units_longer_than_128_tokens_are_not_truncated_at_128(classifier: Classifier) -> None:
    long_text = " ".join(["word"] * 400)
    ids = classifier.embedder._tokenizer.encode(long_text).ids
    assert 128 < len(ids) <= MAX_TOKENS
    # A 200-token sentence and its first 128 tokens embed differently: the tail is read.
    head = " ".join(["calm"] * 120)
    tail = head + " " + " ".join(["rockets fired from Gaza hit Sderot"] * 12)
    a, b = classifier.embedder.embed([head, tail])
    assert float(a @ b) < 0.99


def test_a_topic_added_to_a_copy_of_topics_yaml_works_without_code_changes(tmp_path: Path) -> None:
    shutil.copy(RULES / "topics.head.json", tmp_path / "topics.head.json")
    data = yaml.safe_load((RULES / "topics.yaml").read_text(encoding="utf-8"))
    data["topics"].append(
        {
            "name": "earthquake",
            "description": "An earthquake strikes and causes damage or casualties.",
            "examples": [
                "A magnitude 7.8 earthquake struck southern Turkey, toppling buildings.",
                "The quake killed hundreds and left thousands homeless.",
            ],
            "counter_examples": ["The election result sent shockwaves through the party."],
            "cues": ["earthquake", "quake", "magnitude", "tremor*"],
            "threshold": 0.4,
        }
    )
    data["topics"][0]["examples"].append("A new example changes the ceasefire topic's definition.")
    (tmp_path / "topics.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    edited = Classifier.load(tmp_path)
    assert "earthquake" in edited.topics.names
    results = edited.classify("A powerful quake of magnitude 6.9 shook the coast, collapsing homes.")
    assert results["earthquake"].match and results["earthquake"].scorer == "prototypes"
    assert not results["ceasefire"].match
    # The edited topic's head no longer applies; the untouched topics keep theirs.
    scorers = {m.topic.name: m.head is not None for m in edited.models}
    assert scorers["ceasefire"] is False and scorers["cross_border_shelling"] is True


def test_runs_offline_with_every_network_connection_refused(tmp_path: Path) -> None:
    script = (
        "import socket\n"
        "def refuse(*a, **k):\n    raise OSError('network used')\n"
        "socket.socket.connect = refuse\nsocket.create_connection = refuse\n"
        "from pathlib import Path\nfrom monitor.classify import Classifier\n"
        f"c = Classifier.load(Path({str(RULES)!r}))\n"
        "r = c.classify('Both sides agreed to a ceasefire that took effect at midnight.')\n"
        "print(r['ceasefire'].match)\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"))
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "True"


def test_titles_are_scored_but_evidence_stays_in_the_text(classifier: Classifier) -> None:
    text = "Officials said the talks would continue next week."
    results = classifier.classify(text, title="Rebels and army agree ceasefire in the north")
    assert results["ceasefire"].match
    assert all(text[e.start : e.end] == e.text for e in results["ceasefire"].evidence)
    assert json.loads(results["ceasefire"].model_dump_json())["scorer"] in {"head", "prototypes"}


def test_only_units_holding_a_cue_are_embedded(classifier: Classifier) -> None:
    text = (
        "The central bank left interest rates unchanged on Tuesday. "
        "Rockets fired from Gaza struck the Israeli town of Sderot, the army said. "
        "Markets in Tokyo closed higher as exporters gained."
    )
    analysis = classifier.analyse(text)
    embedded = [
        unit.text for unit, vector in zip(analysis.units, analysis.vectors, strict=True) if vector.any()
    ]
    assert embedded == ["Rockets fired from Gaza struck the Israeli town of Sderot, the army said."]


def test_a_truce_outside_any_armed_conflict_cannot_carry_the_ceasefire_topic(classifier: Classifier) -> None:
    business = "The two software makers called a truce in their long patent fight on Monday."
    result = classifier.classify(business)["ceasefire"]
    assert result.out_of_context and not result.match and result.score == 0.0
    # The same sentence in an article about a war is scored as usual...
    war = business + " Meanwhile rebels and the army fought on in the north."
    assert not classifier.classify(war)["ceasefire"].out_of_context
    # ...but a war of prices, fares or pasta is none: "war" alone is no context term.
    for figurative in (
        "Washington and Beijing called a truce in their trade war.",
        "An armistice eludes the EC and the U.S. in the spaghetti war over pasta export subsidies.",
    ):
        assert classifier.classify(figurative)["ceasefire"].out_of_context


def test_a_context_term_inside_a_veto_does_not_count(tmp_path: Path) -> None:
    """An analyst who lists "war" as context and "trade war" as a veto means the armed kind only."""
    data = yaml.safe_load((RULES / "topics.yaml").read_text(encoding="utf-8"))
    ceasefire = next(topic for topic in data["topics"] if topic["name"] == "ceasefire")
    ceasefire["context"] = ["war"]
    (tmp_path / "topics.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    edited = Classifier.load(tmp_path)
    truce = "The two sides called a truce on Monday after talks in Geneva."
    assert not edited.classify(truce + " The war has lasted two years.")["ceasefire"].out_of_context
    assert edited.classify(truce + " Their trade war has lasted two years.")["ceasefire"].out_of_context


def test_a_lead_veto_stops_the_article_only_when_the_lead_has_it(classifier: Classifier) -> None:
    """A story that opens on a rescue is no release by a party; one that mentions a rescue later can be."""
    rescue = (
        "Commandos rescue four hostages in Gaza raid\n"
        "GAZA - Israeli special forces freed four hostages held by Hamas in a daytime raid on Saturday. "
        "Hamas said the raid killed dozens of Palestinians. Mediators have spent months on a deal under "
        "which Hamas would release the hostages it holds in exchange for Palestinian prisoners."
    )
    stopped = classifier.classify(rescue)["prisoner_exchange"]
    assert stopped.score == 0.0 and not stopped.match and "rescu*" in stopped.vetoed_by
    swap = (
        "Hamas frees hostages in exchange for Palestinian prisoners\n"
        "GAZA - Hamas released four Israeli hostages on Saturday in exchange for 200 Palestinian prisoners "
        "held by Israel, under a deal brokered by Qatar and Egypt. The four were handed to the Red Cross. "
        "In June the army had rescued four other hostages in a raid on Nuseirat."
    )
    released = classifier.classify(swap)["prisoner_exchange"]
    assert released.match and "rescu*" not in released.vetoed_by
    # A title given apart is part of the lead.
    body = swap.split("\n", 1)[1]
    titled = classifier.classify(body, title="Troops rescue hostages from Hamas captivity")
    assert titled["prisoner_exchange"].score == 0.0
    assert classifier.classify(body)["prisoner_exchange"].match
