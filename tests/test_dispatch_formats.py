"""What each integration renders, for ordinary alerts and hostile ones (markup, mentions, huge text).

Slack payloads are validated with ``slack_sdk``'s own block models; the other platforms' limits are
checked against the numbers their documentation gives.
"""

import json
import re
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from monitor.alerts.model import Alert, Evidence, Highlight
from monitor.dispatch.notifier import Notice
from monitor.dispatch.sinks import console, discord, jsonl, slack, teams, webhook
from monitor.dispatch.text import clean, fit, runs
from tests.test_dispatch_support import SENTENCE, sample_alert

HOSTILE_TEXT = "<!channel> & <https://evil.example|your bank> @everyone \x1b[31mred\x1b[0m \u202eevil"


def hostile_alert() -> Alert:
    """Markup and mentions everywhere an article can put text, far more text and evidence than fits."""
    base = sample_alert(7)
    long_sentence = (HOSTILE_TEXT + " ceasefire ") * 400
    hits = [m.start() for m in re.finditer("ceasefire", long_sentence)]
    evidence = tuple(
        Evidence(
            text=long_sentence,
            start=0,
            end=len(long_sentence),
            highlights=tuple(Highlight(start=h, end=h + 9, term="ceasefire") for h in hits),
        )
        for _ in range(60)
    )
    article = base.article.model_copy(
        update={
            "title": HOSTILE_TEXT * 30,
            "source": "*The* _Source_ " + HOSTILE_TEXT,
            "url": "javascript:alert(1)",
            "path": "inbox/" + HOSTILE_TEXT,
        }
    )
    rule = base.rule.model_copy(update={"title": HOSTILE_TEXT * 10})
    return base.model_copy(update={"article": article, "evidence": evidence, "rule": rule})


def texts(node: Any) -> list[str]:
    """Every string value in a JSON document."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [t for v in node.values() for t in texts(v)]
    if isinstance(node, list):
        return [t for v in node for t in texts(v)]
    return []


# ---- Slack -------------------------------------------------------------------------------------


def validate_slack(payload: dict[str, Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = payload["blocks"]
    assert 1 <= len(blocks) <= slack.MAX_BLOCKS
    for raw in blocks:
        block = Block.parse(raw)
        assert block is not None, raw
        block.validate_json()  # slack_sdk enforces header ≤ 150 and section text ≤ 3,000 here
        for field in raw.get("fields", []):
            assert len(field["text"]) <= slack.FIELD_CHARS
        assert len(raw.get("fields", [])) <= 10
    assert 0 < len(payload["text"]) <= 40_000
    return blocks


def test_slack_block_kit_for_an_ordinary_alert() -> None:
    alert = sample_alert(1)
    payload = json.loads(slack.body(alert))
    blocks = validate_slack(payload)
    assert [b["type"] for b in blocks] == ["header", "section", "section", "section", "context"]
    assert blocks[0]["text"]["text"] == alert.rule.title
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in blocks[1]["fields"]}
    assert fields == {
        "*Level*": "high",
        "*Rule*": "aleppo-ceasefire",
        "*Topics*": "ceasefire 0.91, prisoner_exchange 0.74",
        "*Source*": "The Moscow Times",
        "*Published*": "2014-01-17",
    }
    assert blocks[2]["text"]["text"] == f"*<{alert.article.url}|Syria offers Aleppo ceasefire #1>*"
    assert blocks[3]["text"]["text"] == (
        ">Syria offered a *ceasefire* in war-torn Aleppo and a *prisoner swap* with the rebels."
    )
    assert (
        payload["text"]
        == "[HIGH] Ceasefire proposed, agreed or broken around Aleppo: Syria offers Aleppo ceasefire #1"
    )
    mrkdwn = [
        t for b in blocks for t in [b.get("text", {}), *b.get("fields", [])] if t.get("type") == "mrkdwn"
    ]
    assert mrkdwn and all(t["verbatim"] for t in mrkdwn)  # Slack must not auto-link names or channels


def test_slack_escapes_hostile_articles_and_stays_within_limits() -> None:
    payload = json.loads(slack.body(hostile_alert()))
    blocks = validate_slack(payload)
    everything = "\n".join(texts(payload))
    assert "<!channel>" not in everything and "<https://evil" not in everything
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|your bank&gt;" in everything
    assert "\x1b" not in everything and "\u202e" not in everything
    # the javascript: URL is not linked, so no "<" is left at all; ">" only opens an evidence quote
    assert "<" not in everything
    assert all(">" not in t[1:] for t in texts(payload))
    assert len(blocks) <= slack.MAX_BLOCKS
    assert blocks[-1]["elements"][0]["text"].count("more evidence sentences") == 1
    # cut texts end in an ellipsis and never split an escape
    for text in texts(payload):
        assert "&" not in re.sub(r"&(amp|lt|gt);", "", text)


def test_slack_link_targets_cannot_break_out_of_the_link() -> None:
    alert = sample_alert(2)
    url = "https://example.org/a|b>c?q=1&r=2"
    payload = slack.render(
        alert.model_copy(update={"article": alert.article.model_copy(update={"url": url})})
    )
    link = payload["blocks"][2]["text"]["text"]
    assert link.startswith("*<https://example.org/a%7Cb&gt;c?q=1&amp;r=2|")


def test_slack_operator_notice_keeps_its_lines() -> None:
    notice = Notice.create("rules_reload_failed", "rules/a.yaml:3: bad <query>\nrules/b.yaml:9: unknown", NOW)
    payload = slack.render(notice)
    blocks = validate_slack(payload)
    assert blocks[0]["text"]["text"] == "news-monitor: rules_reload_failed"
    assert blocks[1]["text"]["text"] == "rules/a.yaml:3: bad &lt;query&gt;\nrules/b.yaml:9: unknown\n"


NOW = sample_alert(0).created_at


# ---- Teams -------------------------------------------------------------------------------------


def test_teams_adaptive_card_for_a_workflows_webhook() -> None:
    alert = sample_alert(1)
    payload = json.loads(teams.body(alert))
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open article", "url": alert.article.url}]
    # untrusted text only in TextRuns, which Teams never parses as Markdown
    assert {b["type"] for b in card["body"]} == {"RichTextBlock"}
    assert {i["type"] for b in card["body"] for i in b["inlines"]} == {"TextRun"}
    evidence = card["body"][-1]["inlines"]
    assert [(i["text"], i.get("weight")) for i in evidence] == [
        ("Syria offered a ", None),
        ("ceasefire", "Bolder"),
        (" in war-torn Aleppo and a ", None),
        ("prisoner swap", "Bolder"),
        (" with the rebels.", None),
    ]


def test_teams_hostile_alert_is_bounded_and_unlinked() -> None:
    body = teams.body(hostile_alert())
    payload = json.loads(body)
    card = payload["attachments"][0]["content"]
    assert "actions" not in card  # javascript: is never a link target
    assert len(body) < 28_000  # Teams rejects messages over about 28 KB
    assert all(len(t) <= teams.EVIDENCE_CHARS for t in texts(card))
    assert "\x1b" not in body.decode()


# ---- Discord -----------------------------------------------------------------------------------


def embed_size(embed: dict[str, Any]) -> int:
    return (
        len(embed.get("title", ""))
        + len(embed.get("description", ""))
        + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
        + len(embed.get("footer", {}).get("text", ""))
    )


@pytest.mark.parametrize("alert", [sample_alert(1), hostile_alert()], ids=["ordinary", "hostile"])
def test_discord_embed_within_limits_and_unable_to_mention(alert: Alert) -> None:
    payload = json.loads(discord.body(alert))
    assert payload["allowed_mentions"] == {"parse": []}
    (embed,) = payload["embeds"]
    assert len(embed["title"]) <= 256 and len(embed["description"]) <= 4096
    assert len(embed["fields"]) <= 25 and all(len(f["value"]) <= 1024 for f in embed["fields"])
    assert len(embed["footer"]["text"]) <= 2048
    assert embed_size(embed) <= discord.EMBED_TOTAL_CHARS


def test_discord_escapes_markdown_and_links_only_http() -> None:
    ordinary = json.loads(discord.body(sample_alert(1)))["embeds"][0]
    assert ordinary["url"] == sample_alert(1).article.url
    assert "**ceasefire**" in ordinary["description"] and "**prisoner swap**" in ordinary["description"]
    hostile = json.loads(discord.body(hostile_alert()))["embeds"][0]
    assert "url" not in hostile
    assert "\\@everyone" in hostile["description"]
    assert re.search(r"(?<!\\)[\[\]()<>]", hostile["title"]) is None  # every bracket escaped
    assert re.search(r"(?<!\\)[<:]", hostile["description"]) is None  # no <link> and no bare https://


# ---- webhook, JSONL, console -------------------------------------------------------------------


def test_webhook_body_is_the_alert_json_and_jsonl_is_one_line_of_it() -> None:
    alert = sample_alert(1)
    body = webhook.render(alert)
    assert Alert.model_validate_json(body) == alert
    assert json.loads(body)["schema_version"] == "1.0"
    line = jsonl.render(hostile_alert())
    assert line.endswith(b"\n") and line.count(b"\n") == 1


def test_console_block_has_everything_an_operator_reads() -> None:
    alert = sample_alert(1)
    block = console.render(alert, color=False)
    assert block.endswith("\n\n")
    for expected in (
        "HIGH",
        "Ceasefire proposed, agreed or broken around Aleppo",
        "(aleppo-ceasefire)",
        "ceasefire 0.91, prisoner_exchange 0.74",
        "Syria offers Aleppo ceasefire #1",
        "The Moscow Times · 2014-01-17",
        str(alert.article.url),
        "*ceasefire*",
        "*prisoner swap*",
    ):
        assert expected in block, expected
    assert "\x1b" not in block
    coloured = console.render(alert, color=True)
    assert "\x1b[31m" in coloured and "\x1b[1mceasefire\x1b[0m" in coloured


def test_console_strips_terminal_escapes_from_article_text() -> None:
    block = console.render(hostile_alert(), color=False)
    assert "\x1b" not in block and "\u202e" not in block
    assert "(+57 more)" in block


def test_test_alerts_are_marked_in_every_format() -> None:
    alert = sample_alert(1, kind="test")
    assert slack.render(alert)["blocks"][0]["text"]["text"].startswith("[TEST] ")
    assert json.loads(discord.body(alert))["embeds"][0]["title"].startswith("\\[TEST\\] ")
    assert "[TEST] " in console.render(alert)
    assert teams.render(alert)["attachments"][0]["content"]["body"][0]["inlines"][0]["text"].startswith(
        "[TEST]"
    )


# ---- text helpers ------------------------------------------------------------------------------


def test_runs_merge_overlapping_highlights_and_clean_text() -> None:
    text = "a\ttruce\nand ceasefire"
    evidence = Evidence(
        text=text,
        start=0,
        end=len(text),
        highlights=(
            Highlight(start=2, end=7, term="truce"),
            Highlight(start=4, end=8, term="uce"),
            Highlight(start=12, end=99, term="ceasefire"),
        ),
    )
    assert runs(evidence) == [("a ", False), ("truce ", True), ("and ", False), ("ceasefire", True)]
    assert clean("x\x00\x1b[2Jy\u202e") == "x[2Jy"


def test_fit_cuts_raw_text_never_an_escape_or_a_bold_pair() -> None:
    parts = [("&" * 10, False), ("bold" * 10, True)]
    out = fit(parts, 30, slack.escape, lambda s: f"*{s}*")
    assert len(out) <= 30 and out.endswith("…")
    assert out == "&amp;" * 5 + "…"
    assert fit([("ab", False), ("cdefgh", True)], 8, slack.escape, lambda s: f"*{s}*") == "ab*cde*…"
    assert fit([(SENTENCE, False)], 1000, slack.escape) == SENTENCE
