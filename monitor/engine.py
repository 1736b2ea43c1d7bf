"""Loading the analysis engine (topics, classifier, rules) from the rules folder, all or nothing.

A reload builds a complete new :class:`~monitor.analyse.Analyser` beside the running one and only then
replaces it; any error leaves the last good engine in place. The classifier is rebuilt only when
``topics.yaml`` or the trained heads (``topics.head.json``) changed, because loading the model is the
expensive part.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from monitor.analyse import Analyser
from monitor.classify import Classifier
from monitor.classify.head import HEAD_FILE, HeadError
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


def _digest(topics: Path, heads: Path) -> str:
    """What the classifier is built from: the topics file and the heads file, which may be absent.

    Each file is hashed with its length (-1 when absent), so that no file and an empty one differ.
    """
    digest = hashlib.sha256()
    for path in (topics, heads):
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            if path is topics:
                raise EngineError(f"{path}: not found") from None
            digest.update(b"-1:")
            continue
        except OSError as exc:
            raise EngineError(f"{path}: cannot read: {exc.strerror}") from None
        digest.update(f"{len(content)}:".encode() + content)
    return digest.hexdigest()


def load_engine(config: AdminConfig, previous: Engine | None = None) -> Engine:
    rules_dir = config.rules_dir
    digest = _digest(rules_dir / TOPICS_FILE, rules_dir / HEAD_FILE)
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
    except (TopicsError, HeadError, RuleSetError) as exc:
        raise EngineError(str(exc)) from None
    return Engine(Analyser(ruleset=ruleset, scorer=classifier), digest, classifier)
