"""Console sink: one readable block per alert on standard output, coloured only on a terminal.

Article text goes through :func:`~monitor.dispatch.text.clean`, so an article cannot send escape
sequences to the operator's terminal.
"""

import sys
from typing import TextIO

from monitor.alerts.model import Alert
from monitor.dispatch.notifier import Delivered, Message, Notice, Outcome, Retry
from monitor.dispatch.text import clean, fit, headline, runs, topic_summary, truncate
from monitor.severity import Level

MAX_EVIDENCE = 3
EVIDENCE_CHARS = 400

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_LEVEL_STYLE = {
    Level.informational: "\x1b[2m",
    Level.low: "\x1b[36m",
    Level.medium: "\x1b[33m",
    Level.high: "\x1b[31m",
    Level.critical: "\x1b[1;41;97m",
}


def render(message: Message, *, color: bool = False) -> str:
    """The block for one message, ending with a blank line so consecutive blocks stay apart."""
    if isinstance(message, Notice):
        return _render_notice(message, color)
    return _render_alert(message, color)


def _style(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color else text


def _field(label: str, value: str) -> str:
    return f"  {label:<9} {value}"


def _render_alert(alert: Alert, color: bool) -> str:
    level = _style(f" {alert.rule.level.upper()} ", _LEVEL_STYLE[alert.rule.level], color)
    title = _style(headline(alert), _BOLD, color)
    lines = [f"▌{level} {title}  ({clean(alert.rule.id)})"]
    if alert.topics:
        lines.append(_field("topics", topic_summary(alert)))
    article = alert.article
    if article.title:
        lines.append(_field("article", truncate(article.title, 200)))
    origin = " · ".join(
        x for x in (clean(article.source) if article.source else None, _date(alert)) if x is not None
    )
    if origin:
        lines.append(_field("source", origin))
    if article.url:
        lines.append(_field("url", clean(article.url)))
    lines.append(_field("file", clean(article.path)))

    def strong(s: str) -> str:
        return f"{_BOLD}{s}{_RESET}" if color else f"*{s}*"

    for i, evidence in enumerate(alert.evidence[:MAX_EVIDENCE]):
        quote = "“" + fit(runs(evidence), EVIDENCE_CHARS, lambda s: s, strong) + "”"
        lines.append(_field("evidence" if i == 0 else "", quote))
    if len(alert.evidence) > MAX_EVIDENCE:
        lines.append(_field("", f"(+{len(alert.evidence) - MAX_EVIDENCE} more)"))
    return "\n".join(lines) + "\n\n"


def _date(alert: Alert) -> str | None:
    return alert.article.published.isoformat() if alert.article.published else None


def _render_notice(notice: Notice, color: bool) -> str:
    head = f"▌{_style(' OPERATOR ', _LEVEL_STYLE[Level.high], color)} {_style(notice.event, _BOLD, color)}"
    body = [_field("", clean(line)) for line in notice.message.splitlines() if line.strip()]
    return "\n".join([head, *body]) + "\n\n"


class ConsoleNotifier:
    """Writes to the process's standard output at send time (tests and the CLI may replace it)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    async def send(self, message: Message) -> Outcome:
        stream = self._stream or sys.stdout
        try:
            stream.write(render(message, color=stream.isatty()))
            stream.flush()
        except (OSError, ValueError) as exc:  # closed or broken stdout
            return Retry(f"cannot write to standard output ({type(exc).__name__})")
        return Delivered()
