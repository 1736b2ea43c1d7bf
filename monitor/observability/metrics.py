"""Prometheus metrics: defined once here, incremented where the work happens.

Names follow Prometheus conventions (``_total`` counters, base units in seconds). One registry per
process; tests read values with ``REGISTRY.get_sample_value``.
"""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

_LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)

ARTICLES = Counter(
    "newsmon_articles_total",
    "Files taken from the inbox, by outcome (processed, duplicate, quarantined, skipped).",
    ["outcome"],
    registry=REGISTRY,
)
RULE_MATCHES = Counter(
    "newsmon_rule_matches_total", "Rules that matched an article.", ["rule_id"], registry=REGISTRY
)
ALERTS_CREATED = Counter(
    "newsmon_alerts_created_total", "Alerts written to the outbox, by level.", ["level"], registry=REGISTRY
)
ALERTS_SUPPRESSED = Counter(
    "newsmon_alerts_suppressed_total",
    "Rule matches that made no alert, by reason (realert, silenced).",
    ["reason"],
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "newsmon_deliveries_total",
    "Delivery attempts by destination and outcome (delivered, retry, dead).",
    ["destination", "outcome"],
    registry=REGISTRY,
)
OUTBOX_DEPTH = Gauge(
    "newsmon_outbox_pending",
    "Alerts waiting for delivery, by destination.",
    ["destination"],
    registry=REGISTRY,
)
OUTBOX_OLDEST_AGE = Gauge(
    "newsmon_outbox_oldest_age_seconds",
    "Age of the oldest undelivered alert, by destination.",
    ["destination"],
    registry=REGISTRY,
)
RULE_RELOADS = Counter(
    "newsmon_rule_reloads_total",
    "Rule and topic reloads, by outcome (ok, failed).",
    ["outcome"],
    registry=REGISTRY,
)
RULES_LOADED = Gauge("newsmon_rules_loaded", "Rules in the active rule set.", registry=REGISTRY)
INGEST_TO_ALERT = Histogram(
    "newsmon_ingest_to_alert_seconds",
    "From the file being seen in the inbox to its alerts being stored.",
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
STORED_TO_DELIVERED = Histogram(
    "newsmon_stored_to_delivered_seconds",
    "From an alert being stored to its delivery, by destination.",
    ["destination"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
CLASSIFIER_SECONDS = Histogram(
    "newsmon_classifier_seconds",
    "Classifier time per article.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=REGISTRY,
)
INBOX_RESCANS = Counter(
    "newsmon_inbox_rescans_total",
    "Inbox rescans, by reason (startup, overflow, periodic).",
    ["reason"],
    registry=REGISTRY,
)
