"""Teams sink: an Adaptive Card posted to a Power Automate Workflows webhook.

Office 365 connectors are retired; the Workflows template "Post to a channel when a webhook request is
received" takes a ``message`` whose attachment is an Adaptive Card. Untrusted text only ever goes into
``TextRun`` elements, which Teams does not parse as Markdown, so an article cannot forge a link.
"""

import json
from typing import Any

from monitor.alerts.model import Alert
from monitor.dispatch.notifier import Message, Notice
from monitor.dispatch.text import Run, fit, headline, link_target, runs, topic_summary, truncate
from monitor.severity import Level

CARD_VERSION = "1.4"
MAX_EVIDENCE = 5
EVIDENCE_CHARS = 1000
LINE_CHARS = 500

JsonObject = dict[str, Any]

_LEVEL_COLOR = {
    Level.informational: "Default",
    Level.low: "Accent",
    Level.medium: "Warning",
    Level.high: "Attention",
    Level.critical: "Attention",
}


def _run(text: str, **style: Any) -> JsonObject:
    return {"type": "TextRun", "text": text, **style}


def _rich(*inlines: JsonObject) -> JsonObject:
    return {"type": "RichTextBlock", "inlines": list(inlines)}


def _line(label: str, value: str) -> JsonObject:
    return _rich(_run(f"{label}: ", weight="Bolder"), _run(truncate(value, LINE_CHARS)))


def _evidence(parts: list[Run]) -> JsonObject:
    """Highlighted runs bold and highlighted; the text is cut as a whole, never inside a run's style."""
    cut = fit(parts, EVIDENCE_CHARS, lambda s: s, lambda s: f"\x00{s}\x01")
    inlines: list[JsonObject] = []
    for i, chunk in enumerate(cut.split("\x00")):
        strong, _, rest = chunk.partition("\x01") if i else ("", "", chunk)
        if strong:
            inlines.append(_run(strong, weight="Bolder", highlight=True))
        if rest:
            inlines.append(_run(rest, italic=True))
    return {**_rich(*inlines), "spacing": "Small"}


def _card(body: list[JsonObject], actions: list[JsonObject]) -> JsonObject:
    content: JsonObject = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    if actions:
        content["actions"] = actions
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": content}
        ],
    }


def render(message: Message) -> JsonObject:
    if isinstance(message, Notice):
        return _card(
            [
                _rich(
                    _run(
                        truncate(f"news-monitor: {message.event}", LINE_CHARS), size="Large", weight="Bolder"
                    )
                ),
                *(
                    _rich(_run(truncate(line, LINE_CHARS)))
                    for line in message.message.splitlines()
                    if line.strip()
                ),
            ],
            [],
        )
    return _render_alert(message)


def body(message: Message) -> bytes:
    return json.dumps(render(message), ensure_ascii=False).encode()


def _render_alert(alert: Alert) -> JsonObject:
    article = alert.article
    color = _LEVEL_COLOR[alert.rule.level]
    items: list[JsonObject] = [
        _rich(_run(truncate(headline(alert), LINE_CHARS), size="Large", weight="Bolder", color=color)),
        _line("Level", alert.rule.level.value),
        _line("Rule", alert.rule.id),
    ]
    if alert.topics:
        items.append(_line("Topics", topic_summary(alert)))
    items.append(_line("Article", article.title or article.path))
    if article.source:
        items.append(_line("Source", article.source))
    if article.published:
        items.append(_line("Published", article.published.isoformat()))
    items.extend(_evidence(runs(evidence)) for evidence in alert.evidence[:MAX_EVIDENCE])
    url = link_target(article.url)
    actions = [{"type": "Action.OpenUrl", "title": "Open article", "url": url}] if url else []
    return _card(items, actions)
