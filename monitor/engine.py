"""Loading the analysis engine (topics, classifier, rules) from the rules folder, all or nothing.

A reload builds a complete new :class:`~monitor.analyse.Analyser` beside the running one and only then
replaces it; any error leaves the last good engine in place. The classifier is rebuilt only when
``topics.yaml`` changed, because loading the model is the expensive part.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from monitor.analyse import Analyser
from monitor.classify import Classifier
from monitor.classify.topics import TOPICS_FILE, TopicsError
from monitor.config import AdminConfig
from monitor.rules import RuleSetError, load_rules


class EngineError(Exception):
    """Rules or topics could not be loaded; str() lists every located error, one per line."""


@dataclass(frozen=True)
class Engine:
    analyser: Analyser
    topics_digest: str
    classifier: Classifier


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise EngineError(f"{path}: cannot read: {exc.strerror}") from None


def load_engine(config: AdminConfig, previous: Engine | None = None) -> Engine:
    rules_dir = config.rules_dir
    topics_path = rules_dir / TOPICS_FILE
    digest = _digest(topics_path)
    try:
        if previous is not None and previous.topics_digest == digest:
            classifier = previous.classifier
        else:
            classifier = Classifier.load(rules_dir)
        ruleset = load_rules(
            rules_dir,
            known_topics=classifier.topics.names,
            known_destinations=config.destinations.keys(),
        )
    except (TopicsError, RuleSetError) as exc:
        raise EngineError(str(exc)) from None
    return Engine(Analyser(ruleset=ruleset, scorer=classifier), digest, classifier)
