"""The compiled matcher (automaton scan, presearch index, candidates) against a brute-force reference.

The reference knows nothing of keys, streams or candidates: it tries every token position for every word,
every sentence for SENTENCE(...) and every pair of occurrences for NEAR. The word-level definitions it
shares with the engine are the documented language (a word matches its simple plural; a word also
matches when written as two tokens; a phrase's adjacent words also match written as one token).
"""

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from monitor.ingest.article import Article
from monitor.rules.model import Rule
from monitor.rules.query import And, Near, Node, Not, Or, QueryError, Sentence, Term, Word, parse, unparse
from monitor.rules.ruleset import RuleSet
from monitor.text.normalize import stem, tokenize
from monitor.text.sentences import split_sentences

TEXT_WORDS = ["cease", "fire", "ceasefire", "fires", "truce", "truces", "aleppo", "swap", "swaps", "prisoner"]
TEXT_WORDS += ["prisoners", "shell", "shells", "shelling", "the", "pows", "fireswap"]
QUERY_WORDS = [
    "cease",
    "fire",
    "ceasefire",
    "truce",
    "aleppo",
    "swap",
    "prisoner",
    "shell",
    "shelling",
    "pows",
]
PREFIXES = ["cea", "shel", "pris", "tru", "fir"]


# ---------------------------------------------------------------- reference evaluator


class Reference:
    def __init__(self, text: str) -> None:
        tokens = tokenize(text)
        self.norms = tokens.norms
        self.n = len(self.norms)
        starts = [s.start for s in split_sentences(text)]
        self.sentence_ranges = []
        for k, start in enumerate(starts):
            end = starts[k + 1] if k + 1 < len(starts) else len(text) + 1
            members = [i for i, s in enumerate(tokens.starts) if start <= s < end]
            if members:
                self.sentence_ranges.append((members[0], members[-1] + 1))

    def word_at(self, word: Word, i: int) -> list[int]:
        """Ends of the occurrences of one query word starting at token i (one token, or two written apart)."""
        ends = []
        if word.prefix:
            if i < self.n and self.norms[i].startswith(word.text):
                ends.append(i + 1)
            glued = self.norms[i] + self.norms[i + 1] if i + 1 < self.n else ""
            if len(self.norms[i]) < len(word.text) and glued.startswith(word.text):
                ends.append(i + 2)
            return ends
        if i < self.n and stem(self.norms[i]) == stem(word.text):
            ends.append(i + 1)
        if i + 1 < self.n and self.norms[i] + stem(self.norms[i + 1]) == stem(word.text):
            ends.append(i + 2)
        return ends

    def phrase_at(self, ws: tuple[Word, ...], i: int) -> set[int]:
        if not ws:
            return {i}
        ends: set[int] = set()
        for end in self.word_at(ws[0], i):
            ends |= self.phrase_at(ws[1:], end)
        if len(ws) >= 2 and not (ws[0].prefix or ws[1].prefix):
            glued = Word(ws[0].text + ws[1].text, "")
            for end in self.word_at(glued, i):
                ends |= self.phrase_at(ws[2:], end)
        return ends

    def occurrences(self, node: Node, lo: int, hi: int) -> set[tuple[int, int]]:
        match node:
            case Term(ws):
                return {(s, e) for s in range(lo, hi) for e in self.phrase_at(ws, s) if e <= hi}
            case Or(children):
                return set().union(*(self.occurrences(c, lo, hi) for c in children))
            case Near(left, right, distance, ordered):
                found = set()
                for a in self.occurrences(left, lo, hi):
                    for b in self.occurrences(right, lo, hi):
                        after = 0 <= b[0] - a[1] <= distance
                        before = 0 <= a[0] - b[1] <= distance
                        if after or (not ordered and before):
                            found.add((min(a[0], b[0]), max(a[1], b[1])))
                return found
        raise AssertionError(node)

    def holds(self, node: Node, lo: int, hi: int) -> bool:
        match node:
            case And(children):
                return all(self.holds(c, lo, hi) for c in children)
            case Or(children):
                return any(self.holds(c, lo, hi) for c in children)
            case Not(child):
                return not self.holds(child, lo, hi)
            case Sentence(child):
                return any(
                    self.holds(child, max(lo, s), min(hi, e))
                    for s, e in self.sentence_ranges
                    if max(lo, s) < min(hi, e)
                )
        return bool(self.occurrences(node, lo, hi))


# ---------------------------------------------------------------- strategies


def _word(text: str) -> Term:
    return Term((Word(text, text),), text)


words = st.sampled_from(QUERY_WORDS).map(_word)
prefixes = st.sampled_from(PREFIXES).map(lambda p: Term((Word(p, p + "*", prefix=True),), p + "*"))
PHRASES = [
    ["cease", "fire"],
    ["prisoner", "swap"],
    ["cease", "fire", "truce"],
    ["the", "shell"],
    ["fire", "swap"],
]
phrases = st.one_of(
    st.sampled_from(PHRASES), st.lists(st.sampled_from(QUERY_WORDS), min_size=2, max_size=3)
).map(lambda ws: Term(tuple(Word(w, w) for w in ws), '"' + " ".join(ws) + '"'))
terms = st.one_of(words, words, prefixes, phrases)
near_operands = st.recursive(
    terms,
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(lambda cs: Or(tuple(cs))),
        st.builds(Near, inner, inner, st.integers(0, 4), st.booleans()),
    ),
    max_leaves=4,
)


def _boolean(inner: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(lambda cs: And(tuple(cs))),
        st.lists(inner, min_size=2, max_size=3).map(lambda cs: Or(tuple(cs))),
        st.tuples(inner, inner).map(lambda pair: And((pair[0], Not(pair[1])))),
        inner.map(Sentence),
    )


queries = st.recursive(near_operands, _boolean, max_leaves=8)


@st.composite
def texts(draw: st.DrawFn) -> str:
    sentences = []
    for _ in range(draw(st.integers(1, 4))):
        ws = draw(st.lists(st.sampled_from(TEXT_WORDS), min_size=1, max_size=12))
        seps = draw(
            st.lists(
                st.sampled_from([" ", " ", "-", "\u2013", " ", "'s "]), min_size=len(ws), max_size=len(ws)
            )
        )
        body = "".join(w + s for w, s in zip(ws, seps, strict=True)).strip(" -\u2013'")
        sentences.append(body[:1].upper() + body[1:] + ".")
    return " ".join(sentences)


def _article(text: str) -> Article:
    return Article(id="0" * 64, path=Path("a.txt"), received_at=datetime.now(UTC), text=text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(queries, texts())
def test_compiled_matcher_agrees_with_the_reference(node: Node, text: str) -> None:
    query = unparse(node)
    try:
        parsed = parse(query)
    except QueryError:
        assume(False)  # NOT-only queries are rejected by design
        raise
    ruleset = RuleSet([Rule(id="r", title="r", level="low", query=query)])
    reference = Reference(text)
    expected = reference.holds(parsed, 0, reference.n)
    hits = ruleset.match(_article(text))
    assert bool(hits) == expected, (query, text)
    for hit in hits:
        for evidence in hit.evidence:
            assert text[evidence.start : evidence.end] == evidence.text
            for mark in evidence.highlights:
                assert 0 <= mark.start < mark.end <= len(evidence.text)


@settings(max_examples=300, deadline=None)
@given(queries)
def test_unparse_round_trips(node: Node) -> None:
    try:
        parsed = parse(unparse(node))
    except QueryError:
        assume(False)
        raise
    assert parse(unparse(parsed)) == parsed


QUERY_PIECES = [
    '"',
    "(",
    ")",
    "AND",
    "OR",
    "NOT",
    "NEAR/2",
    "ONEAR/1",
    "SENTENCE(",
    "title:",
    "case:",
    "lang:",
]
QUERY_PIECES += ["source:", "x*", "ab*", "*", ":", "truce", "é", "'", "NEAR5", " ", "\n", "\x00", "NEAR/999"]
pieces = st.lists(st.sampled_from(QUERY_PIECES), max_size=12)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.text(max_size=60), pieces.map(" ".join), pieces.map("".join)))
def test_parser_never_crashes_and_locates_its_errors(query: str) -> None:
    try:
        parse(query)
    except QueryError as exc:
        assert 0 <= exc.pos <= len(query)
        assert exc.message


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(queries, min_size=2, max_size=5), texts())
def test_rules_matched_together_agree_with_each_matched_alone(nodes: list[Node], text: str) -> None:
    """Rules of a set share term matchers and one evaluation per article: none may change another's result."""
    valid = []
    for node in nodes:
        try:
            valid.append(unparse(parse(unparse(node))))
        except QueryError:
            continue
    assume(valid)
    rules = [Rule(id=f"r{i}", title="r", level="low", query=q) for i, q in enumerate(valid)]
    together = {hit.rule.id: hit.evidence for hit in RuleSet(rules).match(_article(text))}
    alone = {hit.rule.id: hit.evidence for rule in rules for hit in RuleSet([rule]).match(_article(text))}
    assert together == alone
    reference = Reference(text)
    assert set(together) == {r.id for r in rules if reference.holds(parse(r.query), 0, reference.n)}
