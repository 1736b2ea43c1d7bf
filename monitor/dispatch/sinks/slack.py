"""Slack sink: Block Kit for an incoming webhook, with a plain ``text`` fallback for notifications.

Limits (Slack's, checked in tests with ``slack_sdk``'s block models): 50 blocks, 3,000 characters of
section text, 150 of header text, 2,000 per section field. Article text is escaped (``&``, ``<``,
``>``) and every mrkdwn object is ``verbatim``, so an article can never produce ``<!channel>``, a user
mention or a link that says one thing and goes elsewhere.
"""

import json
from typing import Any

from monitor.alerts.model import Alert
from monitor.dispatch.notifier import Message, Notice
from monitor.dispatch.text import clean, fit, headline, link_target, runs, topic_summary, truncate

MAX_BLOCKS = 50
HEADER_CHARS = 150
SECTION_CHARS = 3000
FIELD_CHARS = 2000
FALLBACK_CHARS = 3000
MAX_EVIDENCE = 5
MAX_LINK_CHARS = 2000  # longer URLs are not linked: the link text must still fit the section

JsonObject = dict[str, Any]


def escape(text: str) -> str:
    """Slack's three control characters (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _bold(text: str) -> str:
    return f"*{text}*"


def _mrkdwn(text: str) -> JsonObject:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _section(text: str) -> JsonObject:
    return {"type": "section", "text": _mrkdwn(text)}


def render(message: Message) -> JsonObject:
    """The webhook payload (JSON object) for an alert or an operator notice."""
    if isinstance(message, Notice):
        return _render_notice(message)
    return _render_alert(message)


def body(message: Message) -> bytes:
    return json.dumps(render(message), ensure_ascii=False).encode()


def _render_alert(alert: Alert) -> JsonObject:
    article = alert.article
    level = alert.rule.level.value
    fields = [
        ("Level", level),
        ("Rule", alert.rule.id),
        ("Topics", topic_summary(alert) if alert.topics else None),
        ("Source", article.source),
        ("Published", article.published.isoformat() if article.published else None),
    ]
    blocks: list[JsonObject] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(headline(alert), HEADER_CHARS, escape)},
        },
        {
            "type": "section",
            "fields": [
                _mrkdwn(f"*{name}*\n" + truncate(value, FIELD_CHARS - len(name) - 3, escape))
                for name, value in fields
                if value
            ],
        },
    ]
    title = article.title or article.path
    url = link_target(article.url)
    if url is not None and len(url) <= MAX_LINK_CHARS:
        # inside <url|text>, "|" and ">" would end the URL early: percent-encode them
        target = escape(url).replace("|", "%7C")
        blocks.append(_section(f"*<{target}|{truncate(title, SECTION_CHARS - len(target) - 10, escape)}>*"))
    else:
        blocks.append(_section(_bold(truncate(title, SECTION_CHARS - 2, escape))))
    for evidence in alert.evidence[:MAX_EVIDENCE]:
        blocks.append(_section(">" + fit(runs(evidence), SECTION_CHARS - 1, escape, _bold)))
    context = [f"File: {escape(clean(article.path))}"]
    if alert.story.article_count > 1:
        context.append(f"Story: {alert.story.article_count} articles")
    if len(alert.evidence) > MAX_EVIDENCE:
        context.append(f"{len(alert.evidence) - MAX_EVIDENCE} more evidence sentences")
    context.append("news-monitor")
    blocks.append({"type": "context", "elements": [_mrkdwn(truncate(" · ".join(context), SECTION_CHARS))]})
    fallback = f"[{level.upper()}] {headline(alert)}: {title}"
    return {
        "text": truncate(fallback, FALLBACK_CHARS, escape),
        "blocks": blocks[:MAX_BLOCKS],
        "unfurl_links": False,
        "unfurl_media": False,
    }


def _render_notice(notice: Notice) -> JsonObject:
    head = f"news-monitor: {notice.event}"
    text = fit([(line, False) for line in _lines(notice.message)], SECTION_CHARS, escape)
    return {
        "text": truncate(f"{head}: {notice.message}", FALLBACK_CHARS, escape),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": truncate(head, HEADER_CHARS, escape)}},
            _section(text),
        ],
    }


def _lines(message: str) -> list[str]:
    """Keep a notice's line breaks (rule errors are one per line); clean each line on its own."""
    return [clean(line) + "\n" for line in message.splitlines() if line.strip()]
