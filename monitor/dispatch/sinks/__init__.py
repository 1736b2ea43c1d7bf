"""One module per integration; :func:`build_notifier` turns a destination's settings into its sink."""

from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from monitor.dispatch.destinations import Destination, DestinationType, SecretSourceError
from monitor.dispatch.http import HttpClient, HttpNotifier
from monitor.dispatch.notifier import Message, Notifier
from monitor.dispatch.sinks import console, discord, jsonl, slack, teams, webhook
from monitor.logs import mask_secret

__all__ = ["build_notifier"]


_BODIES: dict[DestinationType, Callable[[Message], bytes]] = {
    DestinationType.webhook: webhook.render,
    DestinationType.slack: slack.body,
    DestinationType.teams: teams.body,
    DestinationType.discord: discord.body,
}


def build_notifier(
    destination: Destination, *, state_dir: Path, client: HttpClient, stdout: TextIO | None = None
) -> Notifier:
    """The sink for ``destination``; raises :class:`SecretSourceError` if its URL or secret is missing.

    Resolved URLs and secrets are registered with the log masker before anything can log them.
    """
    if destination.type is DestinationType.console:
        return console.ConsoleNotifier(stdout)
    if destination.type is DestinationType.jsonl:
        assert destination.path is not None  # the settings model requires it
        return jsonl.JsonlNotifier(
            destination.path if destination.path.is_absolute() else state_dir / destination.path
        )
    url = destination.resolve_url()
    if url is None:
        raise SecretSourceError("url: not configured")
    mask_secret(url.get_secret_value())
    secret = destination.resolve_secret()
    extra = None
    if secret is not None:
        mask_secret(secret.get_secret_value())
        extra = webhook.signer(secret.get_secret_value().encode())
    return HttpNotifier(
        client,
        url.get_secret_value(),
        _BODIES[destination.type],
        timeout=destination.timeout,
        extra_headers=extra,
    )
