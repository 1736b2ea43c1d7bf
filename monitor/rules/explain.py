"""Why each rule fired or not on one article: ``newsmon check FILE --explain``.

An analyst tuning a rule needs more than "no alert": which clause failed, which terms were found where, and
whether the classifier's topic score was enough. The explanation evaluates each clause of the query on the
whole article with the same compiled evaluation the matcher uses, and the topic condition with the same
function the analysis uses, so it cannot disagree with what the daemon does.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import click

from monitor.alerts.model import Evidence
from monitor.analyse import TopicResultLike, fires, topic_passes, topic_stands_in
from monitor.ingest.article import Article
from monitor.rules.engine import Evaluation, Occurrence, node_terms
from monitor.rules.model import Rule
from monitor.rules.query import And, Node, Not, Or, unparse
from monitor.rules.ruleset import RuleSet, evidence


@dataclass(frozen=True, slots=True)
class Clause:
    """One clause of a query: its text, whether it holds on the article, how many occurrences it has."""

    text: str
    holds: bool
    occurrences: int
    operator: Literal["AND", "OR", "NOT"] | None = None
    children: tuple["Clause", ...] = ()


@dataclass(frozen=True, slots=True)
class TopicCheck:
    """The rule's topic condition: ``score`` is None when the classifier did not score the topic."""

    topic: str
    score: float | None
    needed: float | None
    basis: Literal["min_score", "threshold"]
    passed: bool
    stands_in_at: float | None = None  # the rule's fire_on_topic
    stands_in: bool = False
    out_of_context: bool = False
    vetoed_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Explanation:
    rule: Rule
    fired: bool
    topic: TopicCheck | None
    query: Clause | None
    evidence: tuple[Evidence, ...]


def explain(ruleset: RuleSet, article: Article, topics: Mapping[str, TopicResultLike]) -> list[Explanation]:
    """One explanation per rule of the set, in rule order (disabled rules included, never fired)."""
    doc, evaluation = ruleset.analyse(article)
    explanations: list[Explanation] = []
    for compiled in ruleset.compiled:
        rule, node = compiled.rule, compiled.node
        topic = _topic_check(rule, topics)
        query: Clause | None = None
        found: tuple[Evidence, ...] = ()
        if node is not None:
            query = _clause(node, evaluation)
            ok, occurrences = evaluation.holds(node)
            found = evidence(doc, occurrences if ok else _all_terms(node, evaluation))
        fired = fires(rule, query is not None and query.holds, topics)
        explanations.append(Explanation(rule, fired, topic, query, found))
    return explanations


def _topic_check(rule: Rule, topics: Mapping[str, TopicResultLike]) -> TopicCheck | None:
    if rule.topic is None:
        return None
    result = topics.get(rule.topic)
    basis: Literal["min_score", "threshold"] = "min_score" if rule.min_score is not None else "threshold"
    if result is None:
        return TopicCheck(rule.topic, None, rule.min_score, basis, passed=False)
    needed = rule.min_score if rule.min_score is not None else result.threshold
    return TopicCheck(
        rule.topic,
        result.score,
        needed,
        basis,
        passed=topic_passes(rule, topics),
        stands_in_at=rule.fire_on_topic,
        stands_in=topic_stands_in(rule, topics),
        out_of_context=result.out_of_context,
        vetoed_by=result.vetoed_by,
    )


def _clause(node: Node, evaluation: Evaluation) -> Clause:
    """Boolean structure is opened up; NEAR, SENTENCE, fields, terms, filters and @lists are leaves."""
    ok, occurrences = evaluation.holds(node)
    text = unparse(node)
    match node:
        case And(children):
            return Clause(text, ok, len(occurrences), "AND", tuple(_clause(c, evaluation) for c in children))
        case Or(children, None):
            return Clause(text, ok, len(occurrences), "OR", tuple(_clause(c, evaluation) for c in children))
        case Not(child):
            return Clause(text, ok, 0, "NOT", (_clause(child, evaluation),))
    return Clause(text, ok, len(occurrences))


def _all_terms(node: Node, evaluation: Evaluation) -> list[Occurrence]:
    """Every occurrence of every term of a query that did not match: what was there, NOT terms included."""
    return [occurrence for term in node_terms(node) for occurrence in evaluation.term(term)]


# ---------------------------------------------------------------- rendering


def render_explanations(explanations: Sequence[Explanation], *, color: bool) -> str:
    """Plain text, one block per rule; highlighted spans in bold colour, or in [brackets] without colour."""
    return "\n".join(_render(e, color=color) for e in explanations)


def _render(e: Explanation, *, color: bool) -> str:
    verdict = "FIRED" if e.fired else "not fired"
    if color:
        verdict = click.style(verdict, fg="green" if e.fired else "red", bold=True)
    state = "" if e.rule.enabled else " (disabled)"
    lines = [f"{verdict}  {e.rule.id}{state}  [{e.rule.level}] {e.rule.title}"]
    if e.topic is not None:
        lines.append(f"  {_mark(e.topic.passed)} {_topic_text(e.topic)}")
    if e.query is not None:
        lines.extend(_clause_lines(e.query, depth=1, label="query "))
    heading = "evidence" if e.fired or e.query is None or e.query.holds else "terms found"
    if e.evidence:
        lines.append(f"  {heading}:")
        lines.extend(f"    > {_highlight(ev, color=color)}" for ev in e.evidence)
    return "\n".join(lines) + "\n"


def _topic_text(check: TopicCheck) -> str:
    if check.score is None:
        return f"topic {check.topic}: not scored by the classifier"
    needed = "?" if check.needed is None else f"{check.needed:.2f}"
    relation = ">=" if check.passed else "<"
    text = f"topic {check.topic} {check.score:.2f} {relation} {needed} ({check.basis})"
    if check.stands_in_at is not None:
        verdict = (
            ">= {:.2f} (fire_on_topic): fires without the query"
            if check.stands_in
            else "< {:.2f} (fire_on_topic)"
        )
        text += "; " + verdict.format(check.stands_in_at)
    if check.out_of_context:
        text += "; out of context: the article has none of the topic's context terms"
    if check.vetoed_by:
        text += f"; vetoed by {', '.join(check.vetoed_by)} (it stopped what would have reached the threshold)"
    return text


def _clause_lines(clause: Clause, *, depth: int, label: str = "") -> list[str]:
    count = f"  x{clause.occurrences}" if clause.occurrences else ""
    if clause.operator is not None:
        lines = [f"{'  ' * depth}{_mark(clause.holds)} {label}{_OPERATOR_TEXT[clause.operator]}{count}"]
        for child in clause.children:
            lines.extend(_clause_lines(child, depth=depth + 1))
        return lines
    return [f"{'  ' * depth}{_mark(clause.holds)} {label}{clause.text}{count}"]


_OPERATOR_TEXT = {"AND": "all of (AND):", "OR": "any of (OR):", "NOT": "none of (NOT):"}


def _mark(ok: bool) -> str:
    return "yes" if ok else "no "


def _highlight(ev: Evidence, *, color: bool) -> str:
    out: list[str] = []
    position = 0
    for mark in sorted(ev.highlights, key=lambda h: (h.start, -h.end)):
        if mark.start < position:  # nested or overlapping with the previous span: already shown
            continue
        out.append(ev.text[position : mark.start])
        span = ev.text[mark.start : mark.end]
        out.append(click.style(span, fg="yellow", bold=True) if color else f"[{span}]")
        position = mark.end
    out.append(ev.text[position:])
    return "".join(out).replace("\n", " ")
