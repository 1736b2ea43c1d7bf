"""Delivery of alerts from the outbox to destinations (Slack, Teams, Discord, webhooks, files)."""
