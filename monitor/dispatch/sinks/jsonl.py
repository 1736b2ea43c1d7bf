"""JSONL sink: one alert per line, byte for byte the webhook body, appended and fsynced.

The line is written in one ``write`` on an ``O_APPEND`` descriptor, so concurrent writers never
interleave inside a line, and fsynced before the outbox marks it delivered. A crash between the two
repeats the line on restart; readers dedupe by ``id`` as webhook receivers do.
"""

import asyncio
import os
from pathlib import Path

from monitor.dispatch.notifier import Delivered, Message, Outcome, Retry
from monitor.dispatch.sinks import webhook


def render(message: Message) -> bytes:
    return webhook.render(message) + b"\n"


def append(path: Path, line: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        written = os.write(fd, line)
        if written != len(line):
            raise OSError(f"short write ({written} of {len(line)} bytes)")
        os.fsync(fd)
    finally:
        os.close(fd)


class JsonlNotifier:
    def __init__(self, path: Path) -> None:
        self._path = path

    async def send(self, message: Message) -> Outcome:
        try:
            await asyncio.to_thread(append, self._path, render(message))
        except OSError as exc:
            return Retry(f"cannot append to {self._path.name}: {exc.strerror or exc}")
        return Delivered()
