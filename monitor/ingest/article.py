"""The Article: what ingest hands to analysis, immutable once read."""

from datetime import date, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class Article(BaseModel):
    """One decoded article with the metadata that could be extracted; missing fields are None."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="sha256 of the decoded, newline-normalised text: the dedup key")
    path: Path
    received_at: datetime
    title: str | None = None
    source: str | None = None
    author: str | None = None
    url: str | None = None
    published: date | None = None
    text: str
    language: str | None = None
    encoding: str = "utf-8"
