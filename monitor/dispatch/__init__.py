"""Delivery of alerts from the outbox to destinations (Slack, Teams, Discord, webhooks, files)."""

from monitor.dispatch.dispatcher import Dispatcher

__all__ = ["Dispatcher"]
