"""Article metadata from plain text: title, outlet, author, publication date, original URL, language.

Inbox files are scraped pages saved as text or light markdown, with no schema. Every field is taken only
from a line whose *form* says what it is; a field the text does not state is ``None``. A wrong outlet or date
on an alert misleads an analyst more than a blank one, so nothing is inferred from the story itself.

Rules, in the order they are tried:

- **Header**: the first 12 non-blank lines. Title, byline and date are looked for there only.
- **Title**: the first markdown heading (``# ...`` or a setext ``===`` underline) in the header; else the
  first non-blank line when it reads like a headline: at most 200 characters and 30 words, containing a
  letter, not ending in ``. , ; :``, and not a dateline (``BEIRUT //``, ``PARIS —``: a place opening the
  body), byline, date or label line. A body paragraph on line one (samples 000, 002) therefore gives no title.
- **Byline**: ``By X[, Y]`` in the header. A name that looks like an organisation (starts with "The" or
  contains a newsroom word such as Times, Press, News, Agency) is the outlet (``By [The Moscow Times](#)``);
  otherwise it is the author. The form ``Firstname Lastname, Place ,`` (a trailing comma, as some CMS
  exports print it: sample 003's ``Elad Benari, Canada ,``) is an author, never an outlet.
- **Outlet** also comes from a credit line among the last 5 non-blank lines
  (``* Associated Press with additional reporting from Reuters``: the outlet is the first agency, the
  others only contributed), from ``Source: X`` or from ``Copyright [(c)] YEAR X``. A bare ``Copyright 2007``
  names nobody. Agencies merely quoted in the body ("he told The Associated Press") are not the outlet.
- **Published**: the first header line that is only a date, optionally labelled (Published/Posted/Updated/
  Date) and followed by a time: ``January 19, 2014``, ``Jan. 19, 2014``, ``19 January 2014``,
  ``13th, January 2014``, ``2014-01-19``. All-numeric day/month forms (``01/02/2014``) are ambiguous and
  ignored; relative dates ("yesterday", "Friday") are never resolved.
- **URL**: an ``http(s)`` URL on a labelled line (``Original url:``, ``Source URL:``, ``URL:``, ``Link:``,
  ``Canonical:``), on that line or the next non-blank one, bare, in ``<...>`` or as a markdown link.
- **Language**: ISO 639-1 code when the share of one language's function words is clear (at least 40 words,
  15 % of them function words of that language, and twice the runner-up); otherwise ``None``.
"""

import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

_HEADER_LINES = 12
_FOOTER_LINES = 5
_TITLE_MAX_CHARS = 200
_TITLE_MAX_WORDS = 30


@dataclass(frozen=True, slots=True)
class Metadata:
    title: str | None = None
    source: str | None = None
    author: str | None = None
    published: date | None = None
    url: str | None = None
    language: str | None = None


_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d{2})"
_WEEKDAY = r"(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?\s+)?"
_LABEL = r"(?:(?:published|posted|updated|date)\s*(?:on|:)?\s*)?"
_TIME = r"(?:\s*(?:[|,-]|at)?\s*\d{1,2}[:.]\d{2}(?:\s*[ap]\.?m\.?)?(?:\s*[a-z]{2,5})?)?"
_DATE_FORMS = tuple(
    re.compile(rf"^{_LABEL}{_WEEKDAY}{body}{_TIME}$", re.IGNORECASE)
    for body in (
        rf"{_MONTH}\s+{_DAY},?\s+{_YEAR}",
        rf"{_DAY},?\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}",
        r"(?P<year>(?:19|20)\d{2})-(?P<month>\d{2})-(?P<day>\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2})?\S*)?",
    )
)

_HEADING = re.compile(r"^#{1,6}\s+(?P<text>.+?)\s*#*\s*$")
_SETEXT_UNDERLINE = re.compile(r"^(?:=+|-+)\s*$")
_DATELINE = re.compile(r"^[A-Z][A-Z.'’-]+(?:\s+[A-Z][A-Z.'’-]+)*(?:,\s*[A-Za-z.\s]+?)?\s*(?://|—|–|--)\s*")
_BYLINE = re.compile(r"^by\s+(?P<names>.+?)\s*$", re.IGNORECASE)
_NAME_PLACE = re.compile(
    r"^(?P<name>[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){1,3})\s*,\s*(?P<place>[A-Z][\w .'’-]*?)\s*,\s*$"
)
_CREDIT = re.compile(
    r"^[*•·\-–—]?\s*(?P<outlet>[A-Z][\w&.'’ -]*?)\s+with\s+additional\s+reporting\s+(?:from|by)\s+\S.*$",
    re.IGNORECASE,
)
_SOURCE_LABEL = re.compile(r"^source\s*:\s*(?P<outlet>[^:/<>]+?)\s*$", re.IGNORECASE)
_COPYRIGHT = re.compile(
    r"^(?:copyright\s*(?:\(c\)|©)?|©)\s*(?:(?:19|20)\d{2}(?:\s*[-–]\s*(?:19|20)\d{2})?)?\s*,?\s*"
    r"(?P<outlet>[^\d\s].*?)?\s*\.?\s*(?:all rights reserved\.?)?\s*$",
    re.IGNORECASE,
)
_URL_LABEL = re.compile(
    r"^(?:original\s+(?:url|link|article)|source\s+(?:url|link)|canonical(?:\s+url)?|url|link)\s*:\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
_URL = re.compile(r"^(?:<(?P<angle>[^<>\s]+)>|\[[^\]]*\]\((?P<md>[^()\s]+)\)|(?P<bare>\S+))$")
_MD_LINK = re.compile(r"\[(?P<text>[^\]]*)\]\([^)]*\)")
_MD_EMPHASIS = re.compile(r"(\*{1,3}|_{1,3}|`)")
_NEWSROOM_WORDS = frozenset(
    {
        "agence",
        "agency",
        "associated",
        "bbc",
        "broadcasting",
        "chronicle",
        "daily",
        "gazette",
        "guardian",
        "herald",
        "independent",
        "journal",
        "magazine",
        "media",
        "network",
        "news",
        "newspaper",
        "observer",
        "post",
        "press",
        "radio",
        "reuters",
        "review",
        "service",
        "telegraph",
        "television",
        "times",
        "tribune",
        "tv",
        "weekly",
        "wire",
    }
)


def extract_metadata(text: str) -> Metadata:
    """Read the metadata that ``text`` states in a recognisable form (rules in the module docstring)."""
    lines = [line.strip() for line in text.split("\n")]
    non_blank = [line for line in lines if line]
    header_indices = [index for index, line in enumerate(lines) if line][:_HEADER_LINES]
    header = [lines[index] for index in header_indices]
    footer = non_blank[-_FOOTER_LINES:]
    title = _title(lines, header_indices)
    byline_source, author = _byline(header)
    return Metadata(
        title=title,
        source=byline_source or _footer_source(footer) or _labelled_source(non_blank),
        author=author,
        published=next((d for d in map(parse_date_line, header) if d is not None), None),
        url=_url(non_blank),
        language=detect_language(text),
    )


def parse_date_line(line: str) -> date | None:
    """The date a line consisting only of a date states, or None (also for impossible dates)."""
    candidate = _plain(line)
    for form in _DATE_FORMS:
        match = form.match(candidate)
        if match is None:
            continue
        month_text = match["month"].lower()
        month = int(month_text) if month_text.isdigit() else _MONTHS[month_text]
        try:
            return date(int(match["year"]), month, int(match["day"]))
        except ValueError:
            return None
    return None


def _plain(line: str) -> str:
    """A line without markdown links and emphasis: what a reader sees."""
    without_links = _MD_LINK.sub(lambda m: m["text"], line)
    return " ".join(_MD_EMPHASIS.sub("", without_links).split())


def _title(lines: list[str], header_indices: list[int]) -> str | None:
    for index in header_indices:
        if heading := _HEADING.match(lines[index]):
            return _plain(heading["text"]) or None
        next_line = lines[index + 1] if index + 1 < len(lines) else ""
        if _SETEXT_UNDERLINE.match(next_line) and not _SETEXT_UNDERLINE.match(lines[index]):
            return _plain(lines[index]) or None
    if not header_indices:
        return None
    first = _plain(lines[header_indices[0]])
    return first if _looks_like_headline(first) else None


def _looks_like_headline(line: str) -> bool:
    return (
        0 < len(line) <= _TITLE_MAX_CHARS
        and len(line.split()) <= _TITLE_MAX_WORDS
        and any(ch.isalpha() for ch in line)
        and line[-1] not in ".,;:"
        and _DATELINE.match(line) is None
        and _BYLINE.match(line) is None
        and _NAME_PLACE.match(line) is None
        and _URL_LABEL.match(line) is None
        and parse_date_line(line) is None
    )


def _is_organisation(name: str) -> bool:
    words = re.findall(r"[^\W\d_]+", name.lower())
    return bool(words) and (words[0] == "the" or any(word in _NEWSROOM_WORDS for word in words))


def _byline(header: list[str]) -> tuple[str | None, str | None]:
    """(outlet, author) named by the first byline in the header."""
    for line in header:
        plain = _plain(line)
        if byline := _BYLINE.match(plain):
            parts = [part.strip() for part in re.split(r",|\s+and\s+", byline["names"]) if part.strip()]
            outlet = next((part for part in parts if _is_organisation(part)), None)
            person = next((part for part in parts if not _is_organisation(part)), None)
            if person is not None and not re.search(r"[A-Z]", person):
                person = None
            return outlet, person
        if (name_place := _NAME_PLACE.match(plain)) and not _is_organisation(name_place["name"]):
            return None, name_place["name"]
    return None, None


def _footer_source(footer: list[str]) -> str | None:
    for line in footer:
        if credit := _CREDIT.match(_plain(line)):
            return credit["outlet"].strip()
    return None


def _labelled_source(lines: list[str]) -> str | None:
    for line in lines:
        plain = _plain(line)
        if (labelled := _SOURCE_LABEL.match(plain)) and "http" not in plain.lower():
            return labelled["outlet"]
        if (copyright_line := _COPYRIGHT.match(plain)) and copyright_line["outlet"]:
            outlet = copyright_line["outlet"].strip(" .,")
            if outlet and len(outlet.split()) <= 6:
                return outlet
    return None


def _url(lines: list[str]) -> str | None:
    for index, line in enumerate(lines):
        labelled = _URL_LABEL.match(line)
        if labelled is None:
            continue
        rest = labelled["rest"].strip()
        candidate = rest if rest else (lines[index + 1] if index + 1 < len(lines) else "")
        if url := _http_url(candidate):
            return url
    return None


def _http_url(text: str) -> str | None:
    match = _URL.match(text.strip())
    if match is None:
        return None
    url = match["angle"] or match["md"] or match["bare"]
    parts = urlsplit(url)
    if parts.scheme.lower() in {"http", "https"} and parts.netloc:
        return url
    return None


def _vocabulary(words: str) -> frozenset[str]:
    return frozenset(words.split())


_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": _vocabulary(
        "the of and to in a is that for on was with he it as at by his from are be have has had not but "
        "were which this an they their said who been its will would"
    ),
    "fr": _vocabulary(
        "le la les de des du et en un une est que qui dans pour pas sur au aux il elle ne se ce avec par "
        "sont ont été cette mais leur"
    ),
    "de": _vocabulary(
        "der die das und ist nicht ein eine zu den von mit sich des auf für im dem auch es an als wird "
        "wurde sind bei nach aus hat einer"
    ),
    "es": _vocabulary(
        "el la los las de del y que en un una es por con para se su al lo como más pero sus fue ha son "
        "este esta entre sobre"
    ),
    "it": _vocabulary(
        "il lo la gli le di del della che e è un una per con non sono da dei nel alla anche come ha più "
        "questo ma delle"
    ),
    "pt": _vocabulary(
        "o a os as de do da dos das e que em um uma para com não por se na no mais foi ao como pelo "
        "pela são seu sua"
    ),
    "nl": _vocabulary(
        "de het een en van is dat op te in voor niet met zijn er aan ook als bij door maar werd wordt "
        "heeft naar dit"
    ),
    "ru": _vocabulary(
        "и в не на что с по как он это к из у за о от его для но она так же было были который также быть"
    ),
    "ar": _vocabulary("في من على أن إلى عن مع هذا هذه التي الذي كان قد لا ما بين وقال ذلك أو كما بعد"),
}
_MIN_WORDS = 40
_MIN_SHARE = 0.15
_MAX_WORDS = 3000


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the language whose function words clearly dominate ``text``, else None."""
    words = re.findall(r"[^\W\d_]+", text.lower())[:_MAX_WORDS]
    if len(words) < _MIN_WORDS:
        return None
    scores = sorted(
        ((sum(word in vocabulary for word in words), code) for code, vocabulary in _FUNCTION_WORDS.items()),
        reverse=True,
    )
    (best, code), (runner_up, _) = scores[0], scores[1]
    if best >= _MIN_SHARE * len(words) and best >= 2 * runner_up:
        return code
    return None
