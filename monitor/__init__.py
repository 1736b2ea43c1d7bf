"""news-monitor: watch an inbox of news articles, tag topics, match analysts' rules, deliver alerts."""

__version__ = "0.1.0"
