"""Discord sink: one embed per alert, within Discord's limits, with mentions switched off.

Limits: embed title 256, description 4,096, field value 1,024, footer 2,048, 6,000 characters per
embed in total. ``allowed_mentions`` with an empty ``parse`` list means nothing in the message can ping
anyone, and Markdown in article text is backslash-escaped so it cannot become a masked link.
"""

import json
import re
from typing import Any

from monitor.alerts.model import Alert
from monitor.dispatch.notifier import Message, Notice
from monitor.dispatch.text import clean, fit, headline, link_target, runs, topic_summary, truncate
from monitor.severity import Level

TITLE_CHARS = 256
DESCRIPTION_CHARS = 3000
ARTICLE_TITLE_CHARS = 300
FIELD_CHARS = 256
FOOTER_CHARS = 256
MAX_EVIDENCE = 5
EMBED_TOTAL_CHARS = 6000  # title + description + field names and values + footer, checked in tests

JsonObject = dict[str, Any]

_MARKDOWN = re.compile(r"([\\*_~`|>\[\]()<@#:-])")
_LEVEL_COLOR = {
    Level.informational: 0x9E9E9E,
    Level.low: 0x36C5F0,
    Level.medium: 0xECB22E,
    Level.high: 0xE01E5A,
    Level.critical: 0x8B0000,
}


def escape(text: str) -> str:
    return _MARKDOWN.sub(r"\\\1", text)


def _bold(text: str) -> str:
    return f"**{text}**"


def render(message: Message) -> JsonObject:
    if isinstance(message, Notice):
        embed: JsonObject = {
            "title": truncate(f"news-monitor: {message.event}", TITLE_CHARS, escape),
            "description": fit(
                [(clean(line) + "\n", False) for line in message.message.splitlines() if line.strip()],
                DESCRIPTION_CHARS,
                escape,
            ),
            "color": _LEVEL_COLOR[Level.high],
            "timestamp": message.created_at.isoformat(),
        }
    else:
        embed = _embed(message)
    return {"username": "news-monitor", "allowed_mentions": {"parse": []}, "embeds": [embed]}


def body(message: Message) -> bytes:
    return json.dumps(render(message), ensure_ascii=False).encode()


def _embed(alert: Alert) -> JsonObject:
    article = alert.article
    title_line = _bold(truncate(article.title or article.path, ARTICLE_TITLE_CHARS, escape))
    quote_chars = (DESCRIPTION_CHARS - ARTICLE_TITLE_CHARS - 10) // MAX_EVIDENCE - 3  # "> " and "\n"
    quotes = ["> " + fit(runs(e), quote_chars, escape, _bold) for e in alert.evidence[:MAX_EVIDENCE]]
    embed: JsonObject = {
        "title": truncate(headline(alert), TITLE_CHARS, escape),
        "description": "\n".join([title_line, *quotes]),
        "color": _LEVEL_COLOR[alert.rule.level],
        "timestamp": alert.created_at.isoformat(),
        "fields": [
            {"name": name, "value": truncate(value, FIELD_CHARS, escape), "inline": True}
            for name, value in (
                ("Level", alert.rule.level.value),
                ("Topics", topic_summary(alert) if alert.topics else None),
                ("Source", article.source),
                ("Published", article.published.isoformat() if article.published else None),
            )
            if value
        ],
        "footer": {"text": truncate(f"rule {alert.rule.id} · {article.path}", FOOTER_CHARS)},
    }
    url = link_target(article.url)
    if url is not None and len(url) <= 2048:
        embed["url"] = url
    return embed
