"""Alerts: the versioned alert model, story grouping, realert."""
