"""Compiled matching: index the rules by their terms, scan each article once, evaluate only candidates.

This is Lucene Monitor's presearcher idea. At compile time every query yields a set of *keys* (folded words
or wildcard prefixes) such that the query cannot match an article in which none of them occurs: an AND
needs one of its children (the rarest-looking), an OR all of them, a NOT none (a query made only of NOTs and
metadata filters runs on every article; :attr:`CompiledRules.unindexed` counts those). One Aho-Corasick
automaton holds every key of every rule.

Per article the text is tokenised once (:mod:`monitor.text.normalize`) into parallel word lists, which are
joined into four strings with separators that no word contains:

==========  ============================  ==============================================
stream      entry i                        finds
==========  ============================  ==============================================
words       stem(i)                        ``" key "``: a word, any simple plural
pairs       norm(i) + stem(i+1)            ``" key "``: the same word written as two (``cease fire``)
prefixes    norm(i)                        ``"|prefix"``: a wildcard
pair-pref.  norm(i) + norm(i+1)            ``"|prefix"``: a wildcard over two words (``cease-fires``)
==========  ============================  ==============================================

One automaton pass over each stream (C code) gives every key's occurrences as token spans; only rules with
a key present are evaluated, against those spans. Nothing here keeps state between calls, so one compiled
set serves many threads.
"""

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate, islice, pairwise
from operator import add
from typing import Literal

import ahocorasick

from monitor.rules.query import And, Field, Filter, Near, Node, Not, Or, Sentence, Term, Word
from monitor.text.normalize import Tokens, stem, tokenize, words
from monitor.text.sentences import Span, split_sentences

Key = tuple[Literal["exact", "prefix"], str]
Highlight = tuple[int, int, str]  # token start, token end (exclusive), query term label
Occurrence = tuple[int, int, tuple[Highlight, ...]]  # token span covering all its highlights


# ---------------------------------------------------------------- analysed article


@dataclass(frozen=True)
class Document:
    """An article analysed once for all rules: one string (title first when it is not in the text)."""

    text: str
    body_offset: int
    title_tokens: int
    tokens: Tokens
    source_words: tuple[str, ...]
    language_words: tuple[str, ...]

    @cached_property
    def sentences(self) -> list[Span]:
        """Computed only for articles that match something or meet a SENTENCE(...) clause."""
        return split_sentences(self.text)

    @cached_property
    def sentence_starts(self) -> list[int]:
        """Sentence k covers tokens [sentence_starts[k], sentence_starts[k + 1])."""
        return [bisect_left(self.tokens.starts, s.start) for s in self.sentences]

    def sentence_of(self, token: int) -> int:
        """Index of the sentence holding ``token`` (tokens between sentences go to the one before)."""
        return max(bisect_left(self.sentence_starts, token + 1) - 1, 0)

    def sentence_range(self, index: int) -> tuple[int, int]:
        end = self.sentence_starts[index + 1] if index + 1 < len(self.sentences) else len(self.tokens)
        return self.sentence_starts[index], end


def analyse(text: str, *, title: str | None, source: str | None, language: str | None) -> Document:
    """Tokenise once; the title zone is the first line of the text when it repeats the title.

    When the title is not the text's first line it is analysed in front of the text, separated by a
    blank line, so that ``title:`` terms, NEAR distances and sentences all work the same way;
    ``body_offset`` then says how far the text was shifted.
    """
    title = (title or "").strip()
    first_line = text.lstrip().split("\n", 1)[0]
    if title and words(first_line) == words(title):
        analysed, body_offset = text, 0
        title_end = text.index(first_line) + len(first_line)
    elif title:
        analysed, body_offset = f"{title}\n\n{text}", len(title) + 2
        title_end = len(title)
    else:
        analysed, body_offset, title_end = text, 0, 0
    tokens = tokenize(analysed)
    return Document(
        text=analysed,
        body_offset=body_offset,
        title_tokens=bisect_left(tokens.starts, title_end),
        tokens=tokens,
        source_words=tuple(words(source or "")),
        language_words=tuple(words(language or "")),
    )


# ---------------------------------------------------------------- keys


def word_key(word: Word) -> Key:
    """The automaton key of a query word; a case-sensitive word is found by its folded form, then checked."""
    if word.prefix:
        return ("prefix", word.text)
    return ("exact", stem(word.text.lower()))


def joinable(a: Word, b: Word) -> bool:
    return not (a.prefix or a.case or b.prefix or b.case)


def joined(a: Word, b: Word) -> Word:
    """Two adjacent phrase words written as one (``"cease fire"`` also finds ``ceasefire``)."""
    return Word(a.text + b.text, f"{a.label} {b.label}")


def term_keys(term: Term) -> frozenset[Key]:
    """Keys of the phrase's longest word (or the joined forms that could stand in for it)."""
    ws = term.words
    j = max(range(len(ws)), key=lambda k: len(ws[k].text))
    keys = {word_key(ws[j])}
    if j > 0 and joinable(ws[j - 1], ws[j]):
        keys.add(word_key(joined(ws[j - 1], ws[j])))
    if j + 1 < len(ws) and joinable(ws[j], ws[j + 1]):
        keys.add(word_key(joined(ws[j], ws[j + 1])))
    return frozenset(keys)


def evaluation_keys(node: Node) -> set[Key]:
    """Every key whose spans evaluating ``node`` may need: each word's, and each joinable pair's."""
    keys: set[Key] = set()
    for term in node_terms(node):
        ws = term.words
        keys.update(map(word_key, ws))
        keys.update(word_key(joined(a, b)) for a, b in pairwise(ws) if joinable(a, b))
    return keys


def _cost(keys: frozenset[Key]) -> float:
    """Short words are common words: prefer indexing a rule under few, long keys."""
    return sum(1.0 / len(text) for _, text in keys)


def presearch_keys(node: Node) -> frozenset[Key] | None:
    """Keys of which at least one occurs in every article the node matches; None if there are none."""
    match node:
        case Term():
            return term_keys(node)
        case And(children):
            options = [k for k in map(presearch_keys, children) if k is not None]
            return min(options, key=_cost) if options else None
        case Near(left, right):
            options = [k for k in (presearch_keys(left), presearch_keys(right)) if k is not None]
            return min(options, key=_cost) if options else None
        case Or(children):
            keys: set[Key] = set()
            for child in children:
                child_keys = presearch_keys(child)
                if child_keys is None:
                    return None
                keys |= child_keys
            return frozenset(keys)
        case Sentence(child) | Field(_, child):
            return presearch_keys(child)
        case Not() | Filter():
            return None
    raise AssertionError(node)


def node_terms(node: Node) -> Iterator[Term]:
    """Every term under ``node``, NOT branches included."""
    match node:
        case Term():
            yield node
        case And(children) | Or(children):
            for child in children:
                yield from node_terms(child)
        case Near(left, right):
            yield from node_terms(left)
            yield from node_terms(right)
        case Not(child) | Sentence(child) | Field(_, child):
            yield from node_terms(child)


# ---------------------------------------------------------------- scanning


class Scanner:
    """One automaton over the keys of all rules; :meth:`scan` gives each present key's token spans."""

    def __init__(self, keys: Iterable[Key]) -> None:
        self.keys = tuple(sorted(set(keys)))
        self.has_prefixes = any(kind == "prefix" for kind, _ in self.keys)
        self._automaton = ahocorasick.Automaton()
        for index, (kind, text) in enumerate(self.keys):
            pattern = f" {text} " if kind == "exact" else f"|{text}"
            self._automaton.add_word(pattern, (index, len(pattern)))
        if self.keys:
            self._automaton.make_automaton()

    def scan(self, tokens: Tokens) -> dict[Key, list[tuple[int, int]]]:
        spans: dict[Key, list[tuple[int, int]]] = defaultdict(list)
        if not self.keys or not len(tokens):
            return spans
        norms, stems = tokens.norms, tokens.stems
        self._pass(spans, stems, " ", 1, None)
        self._pass(spans, list(map(add, norms, islice(stems, 1, None))), " ", 2, None)
        if self.has_prefixes:
            self._pass(spans, norms, "|", 1, None)
            self._pass(spans, list(map(add, norms, islice(norms, 1, None))), "|", 2, norms)
        for found in spans.values():
            found.sort()
        return spans

    def _pass(
        self,
        spans: dict[Key, list[tuple[int, int]]],
        entries: list[str],
        sep: str,
        width: int,
        first_words: list[str] | None,
    ) -> None:
        if not entries:
            return
        stream = sep + sep.join(entries) + sep
        # Offset in ``stream`` of each entry's first character.
        starts = list(accumulate(map((1).__add__, map(len, entries)), initial=1))
        keys = self.keys
        for end, (index, length) in self._automaton.iter(stream):
            entry = bisect_left(starts, end - length + 2)
            key = keys[index]
            if first_words is not None and len(first_words[entry]) >= len(key[1]):
                continue  # the first word alone carries the prefix: a one-word occurrence already found
            spans[key].append((entry, entry + width))


# ---------------------------------------------------------------- evaluation


class Evaluation:
    """Evaluates query nodes against one document and its key spans; lives for one article only."""

    def __init__(self, doc: Document, spans: Mapping[Key, list[tuple[int, int]]]) -> None:
        self.doc = doc
        self.spans = spans
        # Keyed by value, not id(): explain parses queries afresh, and a freed node's id is reused.
        self._terms: dict[Term, list[Occurrence]] = {}

    def holds(self, node: Node, lo: int = 0, hi: int | None = None) -> tuple[bool, list[Occurrence]]:
        """Whether ``node`` holds within tokens [lo, hi), and the occurrences that make it hold."""
        return self._eval(node, lo, len(self.doc.tokens) if hi is None else hi)

    def _eval(self, node: Node, lo: int, hi: int) -> tuple[bool, list[Occurrence]]:
        match node:
            case Term():
                occs = [o for o in self.term(node) if lo <= o[0] and o[1] <= hi]
                return bool(occs), occs
            case And(children):
                found: list[Occurrence] = []
                for child in children:
                    ok, occs = self._eval(child, lo, hi)
                    if not ok:
                        return False, []
                    found += occs
                return True, found
            case Or(children):
                found = []
                any_ok = False
                for child in children:
                    ok, occs = self._eval(child, lo, hi)
                    if ok:
                        any_ok = True
                        found += occs
                return any_ok, found
            case Not(child):
                return not self._eval(child, lo, hi)[0], []
            case Near(left, right, distance, ordered):
                return self._near(left, right, distance, ordered, lo, hi)
            case Sentence(child):
                return self._sentence(child, lo, hi)
            case Field(zone, child):
                bound = self.doc.title_tokens
                return (
                    self._eval(child, lo, min(hi, bound))
                    if zone == "title"
                    else self._eval(child, max(lo, bound), hi)
                )
            case Filter(name, value):
                have = self.doc.source_words if name == "source" else self.doc.language_words
                return _filter_holds(name, value, have), []
        raise AssertionError(node)

    def _near(
        self, left: Node, right: Node, distance: int, ordered: bool, lo: int, hi: int
    ) -> tuple[bool, list[Occurrence]]:
        ok_left, lefts = self._eval(left, lo, hi)
        if not ok_left:
            return False, []
        ok_right, rights = self._eval(right, lo, hi)
        if not ok_right:
            return False, []
        found: list[Occurrence] = []
        for a in lefts:
            for b in rights:
                if _near(a, b, distance) or (not ordered and _near(b, a, distance)):
                    found.append((min(a[0], b[0]), max(a[1], b[1]), a[2] + b[2]))
        return bool(found), found

    def _sentence(self, child: Node, lo: int, hi: int) -> tuple[bool, list[Occurrence]]:
        doc = self.doc
        if presearch_keys(child) is None:  # can hold without any term (a filter): try every sentence
            candidates = list(range(len(doc.sentences)))
        else:
            candidates = sorted(
                {doc.sentence_of(o[0]) for t in node_terms(child) for o in self.term(t) if lo <= o[0] < hi}
            )
        found: list[Occurrence] = []
        for index in candidates:
            start, end = doc.sentence_range(index)
            ok, occs = self._eval(child, max(lo, start), min(hi, end))
            if ok:
                found += occs
        return bool(found), found

    def term(self, term: Term) -> list[Occurrence]:
        """All occurrences of a word or phrase in the whole document (cached per term)."""
        cached = self._terms.get(term)
        if cached is None:
            cached = [(s, e, ((s, e, term.label),)) for s, e in self._phrase(term.words)]
            self._terms[term] = cached
        return cached

    def word_spans(self, word: Word) -> list[tuple[int, int]]:
        found = self.spans.get(word_key(word), [])
        if word.case:
            raws = self.doc.tokens.raws
            return [(s, e) for s, e in found if e - s == 1 and raws[s] == word.text]
        return found

    def _phrase(self, ws: tuple[Word, ...]) -> list[tuple[int, int]]:
        if len(ws) == 1:
            return self.word_spans(ws[0])
        singles = [_by_start(self.word_spans(w)) for w in ws]
        pairs = [
            _by_start(self.word_spans(joined(ws[j], ws[j + 1]))) if joinable(ws[j], ws[j + 1]) else {}
            for j in range(len(ws) - 1)
        ]
        pairs.append({})

        def ends(j: int, pos: int) -> Iterator[int]:
            if j == len(ws):
                yield pos
                return
            for end in singles[j].get(pos, ()):
                yield from ends(j + 1, end)
            for end in pairs[j].get(pos, ()):
                yield from ends(j + 2, end)

        starts = sorted(set(singles[0]) | set(pairs[0]))
        return [(s, e) for s in starts for e in sorted(set(ends(0, s)))]


def _by_start(spans: list[tuple[int, int]]) -> dict[int, list[int]]:
    grouped: dict[int, list[int]] = defaultdict(list)
    for s, e in spans:
        grouped[s].append(e)
    return grouped


def _near(first: Occurrence, second: Occurrence, distance: int) -> bool:
    """``second`` starts after ``first`` ends, with at most ``distance`` words between them."""
    return 0 <= second[0] - first[1] <= distance


def _filter_holds(name: str, value: tuple[str, ...], have: tuple[str, ...]) -> bool:
    if name == "lang":  # "en" matches en, en-GB, en_US
        return have[: len(value)] == value
    n = len(value)  # source: the words appear together in the source name
    return any(have[i : i + n] == value for i in range(len(have) - n + 1))
