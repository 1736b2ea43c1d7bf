"""SQLite state: processed articles, stories, alerts and the delivery outbox."""
