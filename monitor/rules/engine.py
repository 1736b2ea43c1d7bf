"""Compiled matching: index the rules by their terms, find the keys an article holds, evaluate candidates.

This is Lucene Monitor's presearcher idea. At compile time every query yields *clauses*: sets of keys
(folded words, or prefixes ending in ``*``) such that an article the query matches holds at least one key
of every clause (an AND needs all its children's clauses, an OR one key of each child's, a phrase every
word, a NOT nothing). A rule is indexed under its cheapest clause; a rule without clauses (only NOTs and
metadata filters) runs on every article and :attr:`RuleSet.unindexed` names it.

Per article the text is tokenised once (:mod:`monitor.text.normalize`) into parallel word lists. A key
occurs where it equals a word's stem (any simple plural), a word glued to the next one's stem (``cease
fire`` for ``ceasefire``), or, for a prefix, the start of a word or of two glued words (``cease-fires`` for
``ceasefir*``). Which keys occur is a few set intersections in C, whatever the number of rules; the
candidates are the rules indexed under a present key whose other clauses are met too, and only they are
evaluated, after the positions of the words they name are indexed. Nothing here keeps state between
articles, so one compiled set serves many threads.
"""

from __future__ import annotations  # nested matchers would otherwise each build an annotations dict

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import compress, islice
from operator import add, itemgetter

import ahocorasick

from monitor.rules.query import And, Field, Filter, Near, Node, Not, Or, Sentence, Term, Word
from monitor.text.normalize import Tokens, stem, tokenize, words
from monitor.text.sentences import Span, split_sentences

Key = str  # a folded, singular word; or a prefix followed by "*"
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

    @cached_property
    def sentence_offsets(self) -> list[int]:
        """Where each sentence starts in the text: a token's sentence is a bisection of its own start."""
        return [sentence.start for sentence in self.sentences]

    def sentence_of(self, token: int) -> int:
        """Index of the sentence holding ``token``: the last one starting at or before it.

        Tokens between two sentences go to the one before, tokens before the first sentence to it. Only
        the few tokens that evidence quotes are placed, so no per-token table is built.
        """
        return max(bisect_right(self.sentence_offsets, self.tokens.starts[token]) - 1, 0)

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
    """The key of a query word; a case-sensitive word is found by its folded form, then checked."""
    if word.prefix:
        return word.text + "*"
    return stem(word.text.lower())


def joinable(a: Word, b: Word) -> bool:
    return not (a.prefix or a.case or b.prefix or b.case)


def joined(a: Word, b: Word) -> Word:
    """Two adjacent phrase words written as one (``"cease fire"`` also finds ``ceasefire``)."""
    return Word(a.text + b.text, f"{a.label} {b.label}")


def _word_clauses(term: Term) -> Iterator[frozenset[Key]]:
    """One clause per word of a phrase: the word itself, or a joined form with a neighbour standing in."""
    ws = term.words
    for j, word in enumerate(ws):
        keys = {word_key(word)}
        if j > 0 and joinable(ws[j - 1], word):
            keys.add(word_key(joined(ws[j - 1], word)))
        if j + 1 < len(ws) and joinable(word, ws[j + 1]):
            keys.add(word_key(joined(word, ws[j + 1])))
        yield frozenset(keys)


def _cost(keys: frozenset[Key]) -> float:
    """Fewer keys, and longer ones (short words are common words), select fewer articles."""
    return sum(1.0 / len(key) for key in keys)


_OR_CLAUSES = 4  # combinations kept per OR


def presearch_clauses(node: Node) -> tuple[frozenset[Key], ...]:
    """Key sets that every article the node matches meets, each in at least one key: an AND of ORs.

    Cheapest first (:func:`_cost`); empty when no term is required (only NOTs and filters). Rules are
    indexed under their first clause; the others are checked, as set operations, before evaluating a rule.
    """
    clauses = set(_clauses(node))
    kept = [c for c in clauses if not any(other < c for other in clauses)]  # a superset adds nothing
    return tuple(sorted(kept, key=lambda c: (_cost(c), sorted(c))))


def _clauses(node: Node) -> Iterator[frozenset[Key]]:
    match node:
        case Term():
            yield from _word_clauses(node)
        case And(children):
            for child in children:
                yield from _clauses(child)
        case Near(left, right):
            yield from _clauses(left)
            yield from _clauses(right)
        case Or(children):
            # Whichever child holds meets all of its clauses, so one clause of each child, joined, is a
            # clause of the OR; a few such combinations prune far more than one (``"a b" OR c`` needs
            # a-or-c and b-or-c, not just a-or-c).
            combinations: list[frozenset[Key]] = [frozenset()]
            for child in children:
                options = presearch_clauses(child)
                if not options:
                    return
                combinations = [c | o for c in combinations for o in options[:2]][:_OR_CLAUSES]
            yield from combinations
        case Sentence(child) | Field(_, child):
            yield from _clauses(child)
        case Not() | Filter():
            return
        case _:
            raise AssertionError(node)


def position_keys(node: Node) -> frozenset[Key]:
    """The word keys whose positions evaluating ``node`` can ask for: its terms' words and glued pairs."""
    return frozenset(
        key
        for term in node_terms(node)
        for keys in _word_clauses(term)
        for key in keys
        if not key.endswith("*")
    )


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


# ---------------------------------------------------------------- key spans


class KeySpans:
    """Where keys occur in one article, as token spans; a key's positions are found on first request.

    Set membership says whether a word key is here at all (all that presearch needs); its positions come
    from an index of the words the candidate rules name (of every word, once a word nobody announced is
    asked about), or, in the rare case of a word written as two, from ``list.index`` over the glued pairs.
    A prefix is found on words cut to its length (once per length asked about) and, written over two
    words, as a word equal to its beginning followed by a word starting with the rest.
    """

    def __init__(self, tokens: Tokens) -> None:
        self.norms = tokens.norms
        self.stems = tokens.stems
        # A word written as two: the first as typed, the second possibly plural (cease fires).
        self.pairs = list(map(add, self.norms, islice(self.stems, 1, None)))
        self.stem_set = frozenset(self.stems)
        self.pair_set = frozenset(self.pairs)
        self._spans: dict[Key, list[tuple[int, int]]] = {}
        self._cuts: dict[int, list[str]] = {}
        self._positions: dict[str, list[int]] = {}
        self._indexed: frozenset[str] | None = frozenset()  # words whose positions are known; None: all

    @cached_property
    def norm_set(self) -> frozenset[str]:
        return frozenset(self.norms)

    @cached_property
    def prefix_stream(self) -> str:
        """The words between bars: ``|p`` finds a prefix, ``|ce|asefir`` one written over two words."""
        return "|" + "|".join(self.norms) + "|"

    def get(self, key: Key) -> list[tuple[int, int]]:
        """Sorted spans of a key: one token, or two (a word written as two, a wildcard over two words)."""
        if not (key in self.pair_set or key.endswith("*")):  # the common case: a word only written as one
            return [(i, i + 1) for i in self.positions(key)]
        spans = self._spans.get(key)
        if spans is None:
            spans = self._spans[key] = self._find(key)
        return spans

    def _find(self, key: Key) -> list[tuple[int, int]]:
        if key.endswith("*"):
            prefix = key[:-1]
            ones = [(i, i + 1) for i in _positions(self._cut(len(prefix)), prefix)]
            norms, last = self.norms, len(self.norms) - 1
            twos = [
                (i, i + 2)
                for split in range(1, len(prefix))
                if prefix[:split] in self.norm_set
                for i in _positions(norms, prefix[:split])
                if i < last and norms[i + 1].startswith(prefix[split:])
            ]
        else:
            ones = [(i, i + 1) for i in self.positions(key)]
            twos = [(i, i + 2) for i in _positions(self.pairs, key)]  # get() only asks for pair keys here
        return sorted(ones + twos) if twos else ones

    def index_words(self, words: Iterable[str]) -> None:
        """Find the positions of these words only: the ones the candidate rules name, told before they run.

        A rule set knows its candidates' words after presearch; marking their tokens is one C pass
        (``map`` and ``compress``) and only the marked tokens cost a Python step, where indexing every
        word costs one per token. A word asked about later that is not among these still gets its
        positions: the whole article is indexed then.
        """
        words = frozenset(words)
        wanted = self.stem_set & words
        stems = self.stems
        positions: dict[str, list[int]] = {}
        if wanted:  # most articles have no candidate at all: nothing to mark
            for i in compress(range(len(stems)), map(wanted.__contains__, stems)):
                positions.setdefault(stems[i], []).append(i)
        self._positions = positions
        self._indexed = words

    def positions(self, word: str) -> Sequence[int]:
        """A word's token positions, in order; the first word nobody announced indexes the whole article."""
        if self._indexed is not None and word not in self._indexed:
            self.index_words(self.stem_set)
            self._indexed = None
        return self._positions.get(word, ())

    def _cut(self, length: int) -> list[str]:
        """Every word cut to ``length`` characters."""
        cut = self._cuts.get(length)
        if cut is None:
            cut = self._cuts[length] = list(map(itemgetter(slice(0, length)), self.norms))
        return cut


def _positions(entries: list[str], value: str) -> list[int]:
    """Every index of ``value`` in ``entries``, each found by ``list.index`` (a C loop)."""
    found: list[int] = []
    index = entries.index
    try:
        i = index(value)
        while True:
            found.append(i)
            i = index(value, i + 1)
    except ValueError:
        return found


class Scanner:
    """The presearch keys of all rules; :meth:`present` says which of them occur in an article.

    Word keys are one set intersection per stream (the article's distinct words, not the keys, set the
    cost); prefixes are one Aho-Corasick pass over the article's words, with every prefix also added split
    in two (``|ce|asefir``) so that a wildcard over two words (``cease-fires``) needs no second stream.
    """

    def __init__(self, keys: Iterable[Key]) -> None:
        keys = frozenset(keys)
        self.words = frozenset(k for k in keys if not k.endswith("*"))
        self._automaton: ahocorasick.Automaton | None = None
        prefixes = sorted(keys - self.words)
        if prefixes:
            self._automaton = ahocorasick.Automaton()
            for key in prefixes:
                prefix = key[:-1]
                self._automaton.add_word(f"|{prefix}", key)
                for split in range(1, len(prefix)):
                    self._automaton.add_word(f"|{prefix[:split]}|{prefix[split:]}", key)
            self._automaton.make_automaton()

    def present(self, spans: KeySpans) -> set[Key]:
        found = set(self.words.intersection(spans.stem_set))
        found.update(self.words.intersection(spans.pair_set))
        if self._automaton is not None and spans.norms:
            found.update(key for _, key in self._automaton.iter(spans.prefix_stream))
        return found


# ---------------------------------------------------------------- evaluation

# What a compiled node returns for tokens [lo, hi): None when it does not hold; otherwise the occurrences
# that make it hold (empty for a NOT or a filter). A returned list may be an evaluation's cache of a term:
# combinators build new lists and never change the ones they are given.
Matcher = Callable[["Evaluation", int, int], list[Occurrence] | None]


class Evaluation:
    """Compiled queries evaluated against one document and its key spans; lives for one article only."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.size = len(doc.tokens)
        self.spans = KeySpans(doc.tokens)
        # Term occurrences over the whole document, shared by every rule naming the term. Keyed by value
        # (:func:`_term_key`), not id(): explain parses queries afresh, and a freed node's id is reused.
        self.terms: dict[str, list[Occurrence]] = {}

    def holds(self, node: Node, lo: int = 0, hi: int | None = None) -> tuple[bool, list[Occurrence]]:
        """Whether ``node`` holds within tokens [lo, hi), and the occurrences that make it hold."""
        found = _compiled(node)(self, lo, self.size if hi is None else hi)
        return (False, []) if found is None else (True, list(found))

    def term(self, term: Term) -> list[Occurrence]:
        """All occurrences of a word or phrase in the whole document (a copy: the cache stays private)."""
        return list(_compiled(term)(self, 0, self.size) or ())


def compile_query(node: Node, terms: dict[str, Matcher] | None = None) -> Matcher:
    """Compile a query once into nested closures: one call per node per evaluation, no dispatch on types.

    ``terms`` shares one matcher among all the queries naming the same term: a rule set passes one dict
    for all its rules, which keeps thousands of compiled rules small.
    """
    shared: dict[str, Matcher] = {} if terms is None else terms
    match node:
        case Term():
            key = _term_key(node)
            found = shared.get(key)
            if found is None:
                found = shared[key] = _term_matcher(node, key)
            return found
        case And(children):
            return _and_matcher(tuple(compile_query(c, shared) for c in children))
        case Or(children):
            return _or_matcher(tuple(compile_query(c, shared) for c in children))
        case Not(child):
            return _not_matcher(compile_query(child, shared))
        case Near(left, right, distance, ordered):
            return _near_matcher(compile_query(left, shared), compile_query(right, shared), distance, ordered)
        case Sentence(child):
            return _sentence_matcher(child, shared)
        case Field(zone, child):
            return _field_matcher(zone, compile_query(child, shared))
        case Filter(name, value):
            return _filter_matcher(name, value)
    raise AssertionError(node)


# For callers that hold syntax trees rather than matchers (explain); a rule set keeps its own matchers.
_compiled = lru_cache(maxsize=1 << 10)(compile_query)


def _term_key(term: Term) -> str:
    """The term's value as a string, whose hash Python computes once (a Term's is a Python-level call)."""
    return "\x1d".join(
        [term.label, *(f"{w.text}\x1e{w.label}\x1e{w.prefix:d}{w.case:d}" for w in term.words)]
    )


def _term_matcher(term: Term, key: str) -> Matcher:
    find = _term_finder(term)

    def match(ev: Evaluation, lo: int, hi: int) -> list[Occurrence] | None:
        occurrences = ev.terms.get(key)
        if occurrences is None:
            occurrences = ev.terms[key] = find(ev)
        if lo > 0 or hi < ev.size:
            occurrences = [o for o in occurrences if lo <= o[0] and o[1] <= hi]
        return occurrences or None

    return match


def _term_finder(term: Term) -> Callable[[Evaluation], list[Occurrence]]:
    """Whole-document occurrences of a term; keys are computed here, once, not per article."""
    label = term.label
    if len(term.words) == 1 and not (term.words[0].case or term.words[0].prefix):
        return _plain_word_finder(word_key(term.words[0]), label)
    if len(term.words) == 1:
        find_word = _word_finder(term.words[0])
        return lambda ev: [(s, e, ((s, e, label),)) for s, e in find_word(ev)]
    ws = term.words
    # For each word: its own finder, and the finder of it glued to the next word (None if not joinable).
    steps = tuple(
        (
            _word_finder(w),
            _word_finder(joined(w, ws[j + 1])) if j + 1 < len(ws) and joinable(w, ws[j + 1]) else None,
        )
        for j, w in enumerate(ws)
    )

    # A word of the phrase whose keys (its own, or glued to a neighbour) are all absent rules it out at
    # the cost of two set operations, before any position is looked up; prefixes are not known as keys.
    required = tuple(keys for keys in _word_clauses(term) if not any(k.endswith("*") for k in keys))

    def phrase(ev: Evaluation) -> list[Occurrence]:
        spans = ev.spans
        for keys in required:
            if spans.stem_set.isdisjoint(keys) and spans.pair_set.isdisjoint(keys):
                return []
        return [(s, e, ((s, e, label),)) for s, e in _phrase(ev, steps)]

    return phrase


def _plain_word_finder(key: Key, label: str) -> Callable[[Evaluation], list[Occurrence]]:
    """The common case in one call: a word's positions straight from the article's index of words."""

    def find(ev: Evaluation) -> list[Occurrence]:
        spans = ev.spans
        if key in spans.pair_set:  # also written as two words here: the general path
            return [(s, e, ((s, e, label),)) for s, e in spans.get(key)]
        if key not in spans.stem_set:  # most words a candidate names are not in the article
            return []
        return [(i, i + 1, ((i, i + 1, label),)) for i in spans.positions(key)]

    return find


SpanFinder = Callable[[Evaluation], list[tuple[int, int]]]


def _word_finder(word: Word) -> SpanFinder:
    """Spans of one query word; a case-sensitive word is found by its folded key, then by its raw form."""
    key = word_key(word)
    if not word.case:
        return lambda ev: ev.spans.get(key)
    text = word.text

    def cased(ev: Evaluation) -> list[tuple[int, int]]:
        raws = ev.doc.tokens.raws
        return [(s, e) for s, e in ev.spans.get(key) if e - s == 1 and raws[s] == text]

    return cased


def _phrase(ev: Evaluation, steps: tuple[tuple[SpanFinder, SpanFinder | None], ...]) -> list[tuple[int, int]]:
    """Spans where the words follow each other, any two adjacent ones possibly written as one.

    Walks the phrase left to right keeping, for each token position reached, the starts that reach it; a
    word is looked up only while some start is still alive, so a phrase whose first words are absent costs
    one lookup.
    """
    # reached[j]: token position after the first j words -> the starts of those occurrences
    reached: list[dict[int, set[int]]] = [{} for _ in range(len(steps) + 1)]
    for j, (single, glued) in enumerate(steps):
        if j > 0 and not reached[j]:
            if not reached[j + 1]:
                return []
            continue
        _extend(reached, j, 1, single(ev))
        if glued is not None:
            _extend(reached, j, 2, glued(ev))
    return sorted((start, end) for end, starts in reached[-1].items() for start in starts)


def _extend(reached: list[dict[int, set[int]]], j: int, width: int, spans: list[tuple[int, int]]) -> None:
    """Continue the occurrences that reached word ``j`` with ``spans`` of ``width`` phrase words."""
    target = reached[j + width]
    if j == 0:
        for start, end in spans:
            target.setdefault(end, set()).add(start)
        return
    here = reached[j]
    for start, end in spans:
        starts = here.get(start)
        if starts:
            target.setdefault(end, set()).update(starts)


def _and_matcher(children: tuple[Matcher, ...]) -> Matcher:
    def match(ev: Evaluation, lo: int, hi: int) -> list[Occurrence] | None:
        found: list[Occurrence] = []
        for child in children:
            occurrences = child(ev, lo, hi)
            if occurrences is None:
                return None
            found += occurrences
        return found

    return match


def _or_matcher(children: tuple[Matcher, ...]) -> Matcher:
    def match(ev: Evaluation, lo: int, hi: int) -> list[Occurrence] | None:
        found: list[Occurrence] | None = None
        for child in children:
            occurrences = child(ev, lo, hi)
            if occurrences is not None:
                found = occurrences if found is None else found + occurrences
        return found

    return match


def _not_matcher(child: Matcher) -> Matcher:
    return lambda ev, lo, hi: [] if child(ev, lo, hi) is None else None


def _near_matcher(left: Matcher, right: Matcher, distance: int, ordered: bool) -> Matcher:
    def match(ev: Evaluation, lo: int, hi: int) -> list[Occurrence] | None:
        lefts = left(ev, lo, hi)
        if lefts is None:
            return None
        rights = right(ev, lo, hi)
        if rights is None:
            return None
        found = [
            (min(a[0], b[0]), max(a[1], b[1]), a[2] + b[2])
            for a in lefts
            for b in rights
            if 0 <= b[0] - a[1] <= distance or (not ordered and 0 <= a[0] - b[1] <= distance)
        ]
        return found or None

    return match


def _sentence_matcher(child_node: Node, shared: dict[str, Matcher]) -> Matcher:
    """Tries the child within each sentence holding one of its terms (every sentence if it needs none)."""
    child = compile_query(child_node, shared)
    terms = tuple(compile_query(term, shared) for term in node_terms(child_node))
    requires_term = bool(presearch_clauses(child_node))

    def match(ev: Evaluation, lo: int, hi: int) -> list[Occurrence] | None:
        doc = ev.doc
        if requires_term:
            whole = [found for term in terms if (found := term(ev, 0, ev.size)) is not None]
            candidates = sorted({doc.sentence_of(o[0]) for found in whole for o in found if lo <= o[0] < hi})
        else:
            candidates = list(range(len(doc.sentences)))
        result: list[Occurrence] = []
        held = False
        for index in candidates:
            start, end = doc.sentence_range(index)
            occurrences = child(ev, max(lo, start), min(hi, end))
            if occurrences is not None:
                held = True
                result += occurrences
        return result if held else None

    return match


def _field_matcher(zone: str, child: Matcher) -> Matcher:
    if zone == "title":
        return lambda ev, lo, hi: child(ev, lo, min(hi, ev.doc.title_tokens))
    return lambda ev, lo, hi: child(ev, max(lo, ev.doc.title_tokens), hi)


def _filter_matcher(name: str, value: tuple[str, ...]) -> Matcher:
    def match(ev: Evaluation, lo: int, hi: int) -> list[Occurrence] | None:
        have = ev.doc.source_words if name == "source" else ev.doc.language_words
        return [] if _filter_holds(name, value, have) else None

    return match


def _filter_holds(name: str, value: tuple[str, ...], have: tuple[str, ...]) -> bool:
    if name == "lang":  # "en" matches en, en-GB, en_US
        return have[: len(value)] == value
    n = len(value)  # source: the words appear together in the source name
    return any(have[i : i + n] == value for i in range(len(have) - n + 1))
