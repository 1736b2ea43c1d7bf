"""A compiled, immutable set of rules: what the daemon swaps in atomically on reload and matches against.

Evidence offsets are in the ORIGINAL ``article.text``. The one exception is a hit in an article title that is
not part of ``article.text`` (ingest found it elsewhere, e.g. in metadata): that evidence has ``start == end
== 0`` and its ``text`` is the title itself, with highlights relative to the title. When the title is the
first line of the text, as it usually is, title hits are ordinary evidence at their place in the text.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

from monitor.alerts.model import Evidence
from monitor.ingest.article import Article
from monitor.rules.engine import (
    Document,
    Evaluation,
    Key,
    Matcher,
    Occurrence,
    Scanner,
    analyse,
    compile_query,
    position_keys,
    presearch_clauses,
)
from monitor.rules.model import Rule
from monitor.rules.query import Node, parse

MAX_EVIDENCE = 5
_validate_evidence = Evidence.__pydantic_validator__.validate_python  # model_validate, minus a Python call
ALONE = ""  # stands for "no second clause" in the index: no key is empty


@dataclass(frozen=True, slots=True)
class QueryHit:
    """A rule whose query matched, with the sentences that made it match (first ``MAX_EVIDENCE``)."""

    rule: Rule
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule: Rule
    node: Node | None  # the parsed query, lists expanded (explanations walk it)
    matcher: Matcher | None
    clauses: tuple[frozenset[Key], ...]  # presearch: indexed under the first, the others checked
    words: tuple[Key, ...]  # the word keys whose positions the query can ask for


class RuleSet:
    """Rules compiled for matching. Build it once per (re)load; :meth:`match` is pure and thread-safe."""

    def __init__(self, rules: Iterable[Rule], lists: Mapping[str, Node] | None = None) -> None:
        """Compile every query; raises :class:`~monitor.rules.query.QueryError` on a bad one.

        The loader has already reported query errors with file positions; this constructor is also the
        API for rules built in code (tests, benchmarks).
        """
        self.rules: tuple[Rule, ...] = tuple(rules)
        compiled: list[CompiledRule] = []
        # One matcher per distinct term, whatever the number of rules naming it.
        terms: dict[str, Matcher] = {}
        for rule in self.rules:
            node = parse(rule.query, lists) if rule.query is not None else None
            if node is None:
                compiled.append(CompiledRule(rule, None, None, (), ()))
            else:
                compiled.append(
                    CompiledRule(
                        rule,
                        node,
                        compile_query(node, terms),
                        presearch_clauses(node),
                        tuple(sorted(position_keys(node))),
                    )
                )
        self.compiled: tuple[CompiledRule, ...] = tuple(compiled)
        # Presearch meets two clauses per rule before the rule is looked at: the first clause's key -> the
        # second clause's keys (ALONE for a one-clause rule), and each (first, second) pair -> its rules.
        seconds: dict[Key, set[Key]] = {}
        pairs: dict[tuple[Key, Key], list[int]] = {}
        always: list[int] = []
        scanned: set[Key] = set()
        for i, item in enumerate(self.compiled):
            if item.matcher is None or not item.rule.enabled:
                continue
            if not item.clauses:
                always.append(i)
                continue
            for clause in item.clauses:
                scanned |= clause
            for first in item.clauses[0]:
                for second in item.clauses[1] if len(item.clauses) > 1 else (ALONE,):
                    seconds.setdefault(first, set()).add(second)
                    pairs.setdefault((first, second), []).append(i)
        # A present first key rarely has a present second one: a frozenset answers that in one C call
        # from the hashes in its own table, without reading every second key's string.
        self._seconds = {first: frozenset(keys) for first, keys in seconds.items()}
        self._pairs = {pair: tuple(ids) for pair, ids in pairs.items()}
        self._always = tuple(always)
        self._scanner = Scanner(scanned)

    @property
    def unindexed(self) -> tuple[str, ...]:
        """Ids of enabled rules that no term can pre-select (evaluated on every article); keep it short."""
        return tuple(self.compiled[i].rule.id for i in self._always)

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def analyse(self, article: Article) -> tuple[Document, Evaluation]:
        """Tokenise the article once; the evaluation answers for any rule of this set (or any query)."""
        doc = analyse(article.text, title=article.title, source=article.source, language=article.language)
        return doc, Evaluation(doc)

    def match(self, article: Article) -> list[QueryHit]:
        """Enabled rules whose query matches ``article``, in rule order; topic-only rules are not here."""
        doc, evaluation = self.analyse(article)
        present = self._scanner.present(evaluation.spans)
        present.add(ALONE)
        candidates = self._candidates(present)
        # Only the candidates' words are indexed: far fewer than the article's (a few dozen of hundreds).
        evaluation.spans.index_words(chain.from_iterable(self.compiled[i].words for i in candidates))
        hits: list[QueryHit] = []
        for i in candidates:
            item = self.compiled[i]
            if len(item.clauses) > 2 and any(clause.isdisjoint(present) for clause in item.clauses[2:]):
                continue
            assert item.matcher is not None  # only rules with a query are indexed
            occurrences = item.matcher(evaluation, 0, evaluation.size)
            if occurrences is not None:
                hits.append(QueryHit(item.rule, evidence(doc, occurrences)))
        return hits

    def _candidates(self, present: set[Key]) -> list[int]:
        """Rules (by index, in rule order) whose first two presearch clauses each have a present key."""
        candidates = set(self._always)
        seconds, pairs = self._seconds, self._pairs
        for first in seconds.keys() & present:
            if not seconds[first].isdisjoint(present):
                for second in seconds[first] & present:
                    candidates.update(pairs[first, second])
        return sorted(candidates)


def evidence(doc: Document, occurrences: list[Occurrence]) -> tuple[Evidence, ...]:
    """One :class:`Evidence` per sentence holding highlighted terms, the first ``MAX_EVIDENCE`` in text order.

    The marks are walked once, in text order, and the walk stops at the first sentence past the limit (a
    common word can have dozens); each mark's sentence is found by bisection. Each evidence is built as
    plain values on the way and validated in one call: a :class:`Highlight` object per mark would cost a
    validation each, for every hit of thousands of rules.
    """
    marks: Sequence[tuple[int, int, str]]
    if len(occurrences) == 1 and len(occurrences[0][2]) == 1:
        marks = occurrences[0][2]  # most hits: one term, once; nothing to merge or sort
    else:
        marks = sorted({mark for _, _, highlights in occurrences for mark in highlights})
    starts, ends, sentence_of = doc.tokens.starts, doc.tokens.ends, doc.sentence_of
    sentences, body_offset = doc.sentences, doc.body_offset
    found: list[dict[str, object]] = []
    highlights: list[dict[str, object]] = []
    current = offset = sentence_end = -1
    for first, last, label in marks:
        index = sentence_of(first)
        if index != current:  # a new sentence: its evidence, whose highlights the next marks fill in
            if len(found) == MAX_EVIDENCE:
                break
            current = index
            offset, sentence_end, text = sentences[index]
            if offset < body_offset:  # the title, analysed in front of the text
                start = end = 0
            else:
                start = offset - body_offset
                end = start + len(text)
            highlights = []
            found.append({"text": text, "start": start, "end": end, "highlights": highlights})
        last_end = min(ends[last - 1], sentence_end)
        highlights.append({"start": starts[first] - offset, "end": last_end - offset, "term": label})
    return tuple(map(_validate_evidence, found))
