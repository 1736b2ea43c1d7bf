"""Text shared by the renderers: evidence split into highlighted runs, and fitting escaped text into
a platform's length limits without ever cutting through an escape sequence or a markup pair.

Article text is untrusted: it reaches chat platforms that interpret markup, and terminals that
interpret control sequences. Every renderer passes it through :func:`clean` and its own escape.
"""

import re
from collections.abc import Callable, Sequence

from monitor.alerts.model import Alert, Evidence

Run = tuple[str, bool]  # (text, highlighted)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACE = re.compile(r"\s+")
ELLIPSIS = "…"


def clean(text: str) -> str:
    """One line of printable text: whitespace runs become one space, control and bidi codes go.

    Bidi overrides are removed because they can make a link or a name read differently than it is.
    """
    return _SPACE.sub(" ", _CONTROL.sub("", text))


def runs(evidence: Evidence) -> list[Run]:
    """The evidence sentence as alternating plain and highlighted runs (overlapping highlights merge)."""
    text = evidence.text
    spans: list[list[int]] = []
    for h in sorted(evidence.highlights, key=lambda h: (h.start, h.end)):
        start, end = min(h.start, len(text)), min(h.end, len(text))
        if start >= end:
            continue
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    out: list[Run] = []
    pos = 0
    for start, end in spans:
        if start > pos:
            out.append((clean(text[pos:start]), False))
        out.append((clean(text[start:end]), True))
        pos = end
    if pos < len(text):
        out.append((clean(text[pos:]), False))
    return [(t, hl) for t, hl in out if t]


def fit(
    parts: Sequence[Run],
    limit: int,
    escape: Callable[[str], str],
    strong: Callable[[str], str] = lambda s: s,
) -> str:
    """Render ``parts`` (escaped, highlights wrapped by ``strong``) in at most ``limit`` characters.

    When the whole does not fit, the raw text is cut (so an escape such as ``&amp;`` or a ``*bold*``
    pair is never split) and an ellipsis marks the cut.
    """

    def render(text: str, highlighted: bool) -> str:
        return strong(escape(text)) if highlighted else escape(text)

    whole = "".join(render(t, hl) for t, hl in parts)
    if len(whole) <= limit:
        return whole
    budget = limit - len(ELLIPSIS)
    out: list[str] = []
    used = 0
    for text, highlighted in parts:
        piece = render(text, highlighted)
        if used + len(piece) <= budget:
            out.append(piece)
            used += len(piece)
            continue
        lo, hi = 0, len(text)  # longest prefix whose rendering fits: rendering grows with the prefix
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if used + len(render(text[:mid], highlighted)) <= budget:
                lo = mid
            else:
                hi = mid - 1
        if lo:
            out.append(render(text[:lo], highlighted))
        break
    return "".join(out) + ELLIPSIS


def truncate(text: str, limit: int, escape: Callable[[str], str] = lambda s: s) -> str:
    return fit([(clean(text), False)], limit, escape)


def topic_summary(alert: Alert) -> str:
    """``ceasefire 0.91, prisoner_exchange 0.74``: matched topics first, each by score."""
    ranked = sorted(alert.topics.items(), key=lambda kv: (not kv[1].match, -kv[1].score, kv[0]))
    return ", ".join(f"{name} {score.score:.2f}" for name, score in ranked)


def headline(alert: Alert) -> str:
    """The rule's title, marked when the alert is a destination test so nobody acts on it."""
    title = clean(alert.rule.title)
    return f"[TEST] {title}" if alert.kind == "test" else title


def link_target(url: str | None) -> str | None:
    """The article URL if it is an absolute http(s) URL without spaces; anything else is not linked."""
    if url is None:
        return None
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")) or _SPACE.search(url) or _CONTROL.search(url):
        return None
    return url
