"""Rule tests: every rule's ``tests.match``/``tests.no_match`` sentences, and benign articles that must raise
nothing, run through the full analysis (classifier topics and queries together, as the daemon runs them).

A rule whose query is fine but whose topic condition fails its own examples is broken for analysts just the
same, so the tests never bypass the classifier.
"""

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import click

from monitor.analyse import Analyser
from monitor.ingest.article import Article

BENIGN_DIR = "benign"

CaseKind = Literal["match", "no_match", "benign"]


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One case: ``subject`` is the rule id, or the benign file's path; ``fired``: the rule ids that fired."""

    subject: str
    kind: CaseKind
    text: str
    fired: tuple[str, ...]

    @property
    def passed(self) -> bool:
        if self.kind == "match":
            return self.subject in self.fired
        if self.kind == "no_match":
            return self.subject not in self.fired
        return not self.fired


def sentence_article(text: str, subject: str) -> Article:
    """An article holding one test sentence; the id is its content hash, as ingest would compute it."""
    return Article(
        id=hashlib.sha256(text.encode()).hexdigest(),
        path=Path(f"<test of {subject}>"),
        received_at=datetime.now(UTC),
        text=text,
    )


def run_rule_tests(analyser: Analyser, benign: Iterable[Article] = ()) -> list[CaseResult]:
    """Every enabled rule's test sentences, then every benign article, in that order."""
    results: list[CaseResult] = []
    for rule in analyser.ruleset.rules:
        if not rule.enabled:
            continue
        cases: list[tuple[CaseKind, str]] = [("match", t) for t in rule.tests.match]
        cases += [("no_match", t) for t in rule.tests.no_match]
        for kind, text in cases:
            fired = _fired(analyser, sentence_article(text, rule.id))
            results.append(CaseResult(rule.id, kind, text, fired))
    for article in benign:
        results.append(
            CaseResult(str(article.path), "benign", article.title or "", _fired(analyser, article))
        )
    return results


def _fired(analyser: Analyser, article: Article) -> tuple[str, ...]:
    return tuple(match.rule.id for match in analyser.analyse(article).matches)


def render_report(results: Sequence[CaseResult], *, color: bool = False) -> str:
    """Sigma-style: one line per case grouped by rule, failures explained, a summary line last."""
    lines: list[str] = []
    subject = None
    for result in results:
        heading = (
            "benign articles (must fire no rule)" if result.kind == "benign" else f"rule {result.subject}"
        )
        if heading != subject:
            lines.append(heading if not lines else f"\n{heading}")
            subject = heading
        mark = "ok  " if result.passed else "FAIL"
        if color:
            mark = click.style(mark, fg="green" if result.passed else "red", bold=not result.passed)
        shown = result.subject if result.kind == "benign" else _short(result.text)
        line = f"  {mark} {result.kind:<8} {shown}"
        if not result.passed:
            line += "\n         " + _why(result)
        lines.append(line)
    failed = sum(not r.passed for r in results)
    lines.append(f"\n{len(results) - failed} passed, {failed} failed")
    return "\n".join(lines)


def _why(result: CaseResult) -> str:
    if result.kind == "match":
        return "expected the rule to fire; it did not (newsmon check --explain shows why)"
    if result.kind == "no_match":
        return "expected the rule not to fire; it fired"
    return f"fired: {', '.join(result.fired)}"


def _short(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."
