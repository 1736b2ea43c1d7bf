"""The optional trained head: one L2-regularised logistic regression per topic, fitted in numpy.

scikit-learn would add ~40 MB of dependencies for a model that is a dot product at run time and a few
Newton steps at training time, so both live here. A head is tied to the embedding model and to the topic
definition it was trained with (its fingerprint): when an analyst edits a topic, its head stops applying
and the topic falls back to zero-shot prototype scoring until ``newsmon topics train`` is run again.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from monitor.classify.topics import Topic

HEAD_FILE = "topics.head.json"

Array = npt.NDArray[np.float64]


class TopicHead(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fingerprint: str = Field(description="sha256 of the topic definition the head was trained with")
    weights: tuple[float, ...]
    bias: float
    threshold: float = Field(ge=0, le=1, description="chosen by cross-validation over documents")


class HeadFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    trained_on: str = Field(description="the labelled data file, for the record")
    documents: int = Field(ge=0)
    topics: dict[str, TopicHead]


class HeadError(Exception):
    """The head file is unreadable or invalid; the message names the file."""


def fingerprint(topic: Topic) -> str:
    """What the head's features depend on: the topic's examples, counter-examples, cues and vetoes."""
    payload = topic.model_dump(include={"name", "examples", "counter_examples", "cues", "vetoes"})
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def load_head(path: Path) -> HeadFile | None:
    if not path.exists():
        return None
    try:
        return HeadFile.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise HeadError(f"{path}: cannot read: {exc.strerror}") from None
    except ValidationError as exc:
        raise HeadError(f"{path}: {exc}") from None


def save_head(path: Path, head: HeadFile) -> None:
    """Write through a temporary file so a reloading daemon never sees half a head."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(head.model_dump_json(indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def sigmoid(z: Array) -> Array:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0))), dtype=np.float64)


def fit_logistic(
    features: Array,
    labels: npt.NDArray[np.bool_],
    *,
    l2: float = 1.0,
    iterations: int = 30,
    targets: Array | None = None,
    row_weights: Array | None = None,
) -> tuple[Array, float]:
    """Class-balanced logistic regression by Newton's method; the bias is not regularised.

    ``targets`` replaces the 0/1 labels as the values fitted (Platt's smoothed targets); the classes,
    and so the balancing, still come from ``labels``. ``row_weights`` multiply each row's weight.
    """
    n, d = features.shape
    positives = int(labels.sum())
    if positives == 0 or positives == n:
        raise ValueError("training needs both positive and negative units")
    y = labels.astype(np.float64) if targets is None else targets
    sample_weight = np.where(labels, n / (2.0 * positives), n / (2.0 * (n - positives)))
    if row_weights is not None:
        sample_weight = sample_weight * row_weights
    x = np.hstack([features, np.ones((n, 1))])
    penalty = np.full(d + 1, l2)
    penalty[-1] = 0.0
    w = np.zeros(d + 1)
    for _ in range(iterations):
        p = sigmoid(x @ w)
        gradient = x.T @ (sample_weight * (p - y)) + penalty * w
        hessian = (x * (sample_weight * p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.abs(step).max()) < 1e-6:
            break
    return w[:-1], float(w[-1])
