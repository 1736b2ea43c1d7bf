"""Topic classifier: sentence embeddings scored against topics defined in rules/topics.yaml."""

from monitor.classify.classifier import Classifier, TopicResult
from monitor.classify.topics import Topic, TopicsError, TopicSet, load_topics

__all__ = ["Classifier", "Topic", "TopicResult", "TopicSet", "TopicsError", "load_topics"]
